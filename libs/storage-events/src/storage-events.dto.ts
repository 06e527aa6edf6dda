/** The object an S3 event record is about. */
export class S3EventObjectDto {
  /** Object key, URL-encoded as S3 sends it (`+` for a space, %xx). */
  key: string;
  /** Bytes stored; compared with the asset's declared size. */
  size?: number;
  eTag?: string;
}

export class S3EventBucketDto {
  /** A configured storage region's bucket (the bucket names the region). */
  name: string;
}

export class S3EventEntityDto {
  bucket: S3EventBucketDto;
  object: S3EventObjectDto;
}

/** One record of an S3 event notification; only `ObjectCreated:*` (MinIO: `s3:ObjectCreated:*`) records are acted on. */
export class S3EventRecordDto {
  /** e.g. `ObjectCreated:Put`, `s3:ObjectCreated:CompleteMultipartUpload`. */
  eventName: string;
  s3: S3EventEntityDto;
}

/**
 * An S3 event notification as S3 or MinIO's webhook target sends it (other fields S3 and MinIO add are accepted and
 * ignored). MinIO's envelope adds `EventName` and `Key`; an S3 test event (`{"Event":"s3:TestEvent"}`) is accepted
 * and ignored.
 */
export class S3EventNotificationDto {
  Records: S3EventRecordDto[];
  /** MinIO: the event name of the records (e.g. `s3:ObjectCreated:Put`). */
  EventName?: string;
  /** MinIO: `<bucket>/<key>` of the record. */
  Key?: string;
}
