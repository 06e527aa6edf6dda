export * from './storage-driver';
export * from './object-key-layout';
export * from './content-disposition';
export * from './storage.module';
export { LocalStorageDriver, LOCAL_URL_PREFIX } from './drivers/local-storage.driver';
export type { LocalStorageOptions } from './drivers/local-storage.driver';
export { ClaimFiles } from './drivers/local/claim-files';
export type { HeldClaim } from './drivers/local/claim-files';
export { watchBody } from './drivers/local/body-watchdog';
export { S3StorageDriver } from './drivers/s3-storage.driver';
export type { S3StorageDriverOptions } from './drivers/s3-storage.driver';
export {
  createLocalObjectHandler,
  createLocalObjectsHandler,
  parseRange,
  notModified,
  ifRangeHolds,
} from './local/local-object.http-handler';
export { LocalUploadHooks, LOCAL_UPLOAD_LISTENER_TIMEOUT_MS } from './local/local-upload.hooks';
export type { LocalUploadStored, LocalUploadListener } from './local/local-upload.hooks';
export { storageOriginGate } from './local/local-storage-origin';
export type { StorageOriginGate, StorageOriginSettings } from './local/local-storage-origin';
export * from './cache-control';
export { RegionRouter, isRegionOutage } from './regions/region-router';
export type { StorageRegion, RegionState, RegionRouterOptions } from './regions/region-router';
export { RegionStatusDto } from './regions/region-status.dto';
/** The same view under its earlier name. */
export type { RegionStatusDto as RegionStatus } from './regions/region-status.dto';
export { RoutedStorageDriver } from './regions/routed-storage.driver';
export { ReplicationService } from './replication/replication.service';
export { OBJECT_REPLICATE_TOPIC, REPLICATION_QUEUE } from './replication/replication.constants';
export { bucketCorsRule, BUCKET_CORS_ALLOWED_HEADERS, BUCKET_CORS_EXPOSE_HEADERS } from './cors/bucket-cors.rule';
