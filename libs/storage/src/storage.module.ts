import { BullModule } from '@nestjs/bull';
import { Global, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, AppConfig, STORAGE_CONFIG, StorageConfig } from '@app/core';
import { BucketCorsService } from './cors/bucket-cors.service';
import { LocalStorageDriver } from './drivers/local-storage.driver';
import { LocalUploadHooks } from './local/local-upload.hooks';
import { createRegionDriver, createStorageRegions } from './regions/region-drivers';
import { RegionMetrics } from './regions/region.metrics';
import { RegionRouter } from './regions/region-router';
import { RoutedStorageDriver } from './regions/routed-storage.driver';
import { ReplicaRepository } from './replication/replica.repository';
import { REPLICATION_QUEUE } from './replication/replication.constants';
import { ReplicationProcessor } from './replication/replication.processor';
import { ReplicationService } from './replication/replication.service';
import { isManagedStorage, STORAGE_DRIVER, StorageDriver } from './storage-driver';

/** The primary region's own driver (no routing). Kept for tools that want one store. */
export function createStorageDriver(config: AppConfig): StorageDriver {
  const settings = config.storageRegions.find((r) => r.primary) ?? config.storageRegions[0];
  return createRegionDriver(
    settings,
    config,
    settings.driver === 'local' && config.storageRegions.find((r) => r.driver === 'local') === settings,
  );
}

export function createRegionRouter(config: AppConfig): RegionRouter {
  return new RegionRouter(createStorageRegions(config), {
    healthCheckIntervalMs: config.STORAGE_HEALTH_CHECK_INTERVAL_MS,
    healthCheckTimeoutMs: config.STORAGE_HEALTH_CHECK_TIMEOUT_MS,
    failureThreshold: config.STORAGE_CIRCUIT_FAILURE_THRESHOLD,
  });
}

const replicationQueue = BullModule.registerQueue({ name: REPLICATION_QUEUE });

/**
 * Storage regions and the routed StorageDriver (STORAGE_DRIVER) every module uses, plus replication.
 * Local regions' signed URLs are mounted by the app (see bootstrap.ts).
 */
@Global()
@Module({
  imports: [replicationQueue],
  providers: [
    { provide: RegionRouter, inject: [APP_CONFIG], useFactory: createRegionRouter },
    {
      provide: STORAGE_DRIVER,
      inject: [RegionRouter, STORAGE_CONFIG],
      useFactory: (router: RegionRouter, storage: StorageConfig) =>
        new RoutedStorageDriver(router, storage.STORAGE_BUCKET, storage.STORAGE_HEALTH_CHECK_TIMEOUT_MS),
    },
    ReplicaRepository,
    ReplicationService,
    ReplicationProcessor,
    BucketCorsService,
    RegionMetrics,
    LocalUploadHooks,
  ],
  exports: [STORAGE_DRIVER, RegionRouter, ReplicationService, LocalUploadHooks],
})
export class StorageModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Storage');
  constructor(
    private readonly router: RegionRouter,
    private readonly replication: ReplicationService,
  ) {}

  async onModuleInit() {
    for (const region of this.router.regions) {
      const d = region.driver;
      if (isManagedStorage(d)) await d.init();
      const where = isManagedStorage(d) ? ` ${d.describeLocation()}` : '';
      this.logger.log(`Storage region "${region.name}"${region.primary ? ' (primary)' : ''}: ${d.kind} bucket "${d.bucket}"${where}`);
    }
    if (this.router.multiRegion) {
      this.logger.log(
        `Replication between ${this.router.regions.length} regions is ${this.replication.enabled ? 'on' : 'off (REPLICATION_ENABLED=false)'}`,
      );
    }
    // Know each region's state before serving; bounded by the health-check timeout.
    await this.router.checkAll();
    this.router.start();
  }

  async onApplicationShutdown() {
    await this.router.stop();
    for (const region of this.router.regions) if (isManagedStorage(region.driver)) region.driver.destroy();
  }
}

/** Every local region's driver (the app serves their signed URLs; the handler needs the driver itself). */
export function localRegionDrivers(router: RegionRouter): LocalStorageDriver[] {
  return router.regions.map((r) => r.driver).filter((d): d is LocalStorageDriver => d instanceof LocalStorageDriver);
}
