import { Global, Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/core';
import { LocalStorageDriver } from './drivers/local-storage.driver';
import { S3StorageDriver } from './drivers/s3-storage.driver';
import { STORAGE_DRIVER, StorageDriver } from './storage-driver';

export function createStorageDriver(config: AppConfig): StorageDriver {
  if (config.STORAGE_DRIVER === 's3') {
    return new S3StorageDriver({
      bucket: config.STORAGE_BUCKET,
      region: config.S3_REGION,
      endpoint: config.S3_ENDPOINT,
      publicEndpoint: config.S3_PUBLIC_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      requestTimeoutMs: config.S3_REQUEST_TIMEOUT_MS,
    });
  }
  return new LocalStorageDriver({
    root: config.LOCAL_STORAGE_ROOT,
    bucket: config.STORAGE_BUCKET,
    baseUrl: config.publicBaseUrl,
    signingSecret: config.storageSigningSecret,
  });
}

/** Provides the configured StorageDriver. The local driver's signed URLs are mounted by the app (see main.ts). */
@Global()
@Module({
  providers: [{ provide: STORAGE_DRIVER, inject: [APP_CONFIG], useFactory: createStorageDriver }],
  exports: [STORAGE_DRIVER],
})
export class StorageModule implements OnModuleInit {
  private readonly logger = new Logger('Storage');
  constructor(@Inject(STORAGE_DRIVER) private readonly driver: StorageDriver) {}

  async onModuleInit() {
    if (this.driver instanceof LocalStorageDriver) {
      await this.driver.init();
      this.logger.log(`Local storage driver: bucket "${this.driver.bucket}" under ${this.driver.root}`);
    } else {
      this.logger.log(`S3 storage driver: bucket "${this.driver.bucket}"`);
    }
  }
}
