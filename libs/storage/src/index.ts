export * from './storage-driver';
export * from './object-key-layout';
export * from './content-disposition';
export * from './storage.module';
export { LocalStorageDriver, LOCAL_URL_PREFIX } from './drivers/local-storage.driver';
export { S3StorageDriver } from './drivers/s3-storage.driver';
export { createLocalObjectHandler, parseRange } from './local/local-object.http-handler';
