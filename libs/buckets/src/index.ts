export * from './buckets.module';
export { BucketsService } from './buckets.service';
export { checkBucketName, checkPath, DEFAULT_BUCKET, MAX_PATH_BYTES, BUCKET_NAME_PATTERN } from './bucket-rules';
export { BucketViewDto } from './buckets.dto';
