import type { AppConfig, StorageRegionSettings } from '@app/core';
import { LOCAL_URL_PREFIX, LocalStorageDriver } from '../drivers/local-storage.driver';
import { S3StorageDriver } from '../drivers/s3-storage.driver';
import type { StorageDriver } from '../storage-driver';
import type { StorageRegion } from './region-router';

/**
 * The driver for one configured region. Local regions serve their signed URLs from this service (on
 * PUBLIC_STORAGE_URL, by default PUBLIC_BASE_URL): the first
 * local region (in configuration order) under LOCAL_URL_PREFIX, as a single-region deployment always has,
 * the others under `<LOCAL_URL_PREFIX>/r/<region>`.
 */
export function createRegionDriver(settings: StorageRegionSettings, config: AppConfig, firstLocal: boolean): StorageDriver {
  if (settings.driver === 's3') {
    return new S3StorageDriver({
      bucket: settings.bucket,
      region: settings.region,
      endpoint: settings.endpoint,
      publicEndpoint: settings.publicEndpoint,
      forcePathStyle: settings.forcePathStyle,
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
      requestTimeoutMs: settings.requestTimeoutMs,
    });
  }
  return new LocalStorageDriver({
    root: settings.root,
    bucket: settings.bucket,
    baseUrl: config.publicStorageUrl,
    signingSecret: config.storageSigningSecret,
    urlPrefix: firstLocal ? LOCAL_URL_PREFIX : `${LOCAL_URL_PREFIX}/r/${settings.name}`,
    uploadLimits: {
      bodyIdleTimeoutSeconds: config.UPLOAD_BODY_IDLE_TIMEOUT_SECONDS,
      expiryGraceSeconds: config.UPLOAD_EXPIRY_GRACE_SECONDS,
      maxInFlightPerOwner: config.MAX_UPLOADS_IN_FLIGHT_PER_OWNER,
    },
  });
}

/** Every configured region with its driver, in configuration order. */
export function createStorageRegions(config: AppConfig): StorageRegion[] {
  const firstLocal = config.storageRegions.find((r) => r.driver === 'local')?.name;
  return config.storageRegions.map((r) => ({
    name: r.name,
    primary: r.primary,
    driver: createRegionDriver(r, config, r.name === firstLocal),
  }));
}
