import type { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  BucketCorsRule,
  ByteRange,
  ListedObject,
  ObjectInfo,
  PutObjectParams,
  StorageClassName,
  StorageNotFoundError,
  StorageUnavailableError,
} from '../../storage-driver';
import { copySource, describeError, errorName, isNotFound, statusOf, translateS3Error } from './s3-errors';
import { assertLength } from './s3-url-signer';

/** Multipart part size for writes of unknown length: at most queueSize × this is buffered. */
const UPLOAD_PART_SIZE = 8 * 1024 * 1024;
const UPLOAD_QUEUE_SIZE = 2;
/** CopyObject's limit; above it a copy streams. */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;

/** Object and bucket requests on one bucket: head, read, write, copy, list, storage class, delete, health, CORS. */
export class S3ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly requestTimeoutMs: number,
  ) {}

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: Number(res.ContentLength ?? 0),
        contentType: res.ContentType,
        etag: res.ETag,
        lastModified: res.LastModified,
        ...(res.StorageClass && res.StorageClass !== 'STANDARD' ? { storageClass: res.StorageClass } : {}),
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw translateS3Error(err, `head ${key}`);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    if (range) assertRange(range);
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      if (!res.Body) throw new StorageUnavailableError(`S3 returned no body for ${key}`);
      return res.Body as Readable;
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err;
      if (isNotFound(err)) throw new StorageNotFoundError(key);
      throw translateS3Error(err, `read ${key}`);
    }
  }

  async write({ key, body, contentType, contentLength }: PutObjectParams): Promise<void> {
    try {
      if (contentLength !== undefined) {
        assertLength(contentLength);
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, ContentLength: contentLength }),
          // No total deadline for the body (it may be large); stalls are still bounded by socketTimeout.
          { requestTimeout: 0 },
        );
      } else {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
          partSize: UPLOAD_PART_SIZE,
          queueSize: UPLOAD_QUEUE_SIZE,
          leavePartsOnError: false,
        });
        await upload.done();
      }
    } catch (err) {
      if (err instanceof RangeError) throw err;
      throw translateS3Error(err, `write ${key}`);
    }
  }

  /** Server-side CopyObject (S3 copies up to 5 GiB in one call); larger objects stream through a multipart upload. */
  async copy({ fromKey, toKey }: { fromKey: string; toKey: string }): Promise<void> {
    const info = await this.head(fromKey);
    if (!info) throw new StorageNotFoundError(fromKey);
    if (info.size > MAX_SINGLE_COPY_BYTES) {
      await this.write({ key: toKey, body: await this.read(fromKey), contentType: info.contentType ?? 'application/octet-stream' });
      return;
    }
    try {
      await this.client.send(
        new CopyObjectCommand({ Bucket: this.bucket, Key: toKey, CopySource: copySource(this.bucket, fromKey) }),
        // A large server-side copy may take a while before S3 answers.
        { requestTimeout: 0 },
      );
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(fromKey);
      throw translateS3Error(err, `copy ${fromKey} to ${toKey}`);
    }
  }

  /** ListObjectsV2, one page (≤ 1000 keys) per request, following continuation tokens. */
  async *listObjects({ prefix, pageSize = 1000 }: { prefix: string; pageSize?: number }): AsyncIterable<ListedObject[]> {
    let token: string | undefined;
    do {
      let res;
      try {
        res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: Math.min(1000, pageSize) }),
          { abortSignal: AbortSignal.timeout(this.requestTimeoutMs) },
        );
      } catch (err) {
        throw translateS3Error(err, `list ${prefix}`);
      }
      const page = (res.Contents ?? [])
        .filter((o) => o.Key)
        .map((o) => ({
          key: o.Key!,
          size: Number(o.Size ?? 0),
          lastModified: o.LastModified ?? new Date(0),
          ...(o.StorageClass && o.StorageClass !== 'STANDARD' ? { storageClass: String(o.StorageClass) } : {}),
        }));
      if (page.length) yield page;
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * CopyObject onto itself with the new StorageClass (S3 changes the class of objects ≤ 5 GiB this way; larger
   * ones need a multipart copy, not done here). MetadataDirective REPLACE keeps the content type by restating it.
   */
  async setStorageClass({ key, storageClass }: { key: string; storageClass: StorageClassName }): Promise<void> {
    const info = await this.head(key);
    if (!info) throw new StorageNotFoundError(key);
    if ((info.storageClass ?? 'STANDARD') === storageClass) return;
    if (info.size > MAX_SINGLE_COPY_BYTES)
      throw new Error(`changing the storage class of ${key} (${info.size} bytes > 5 GiB) needs a multipart copy`);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: key,
          CopySource: copySource(this.bucket, key),
          StorageClass: storageClass,
          MetadataDirective: 'REPLACE',
          ContentType: info.contentType,
        }),
        { requestTimeout: 0 },
      );
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(key);
      throw translateS3Error(err, `set storage class of ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      // S3 answers 204 for an absent key; some compatible stores answer 404 NoSuchKey. A missing
      // bucket (NoSuchBucket) is not "already deleted" and is not swallowed.
      const name = errorName(err);
      if (name === 'NoSuchKey' || name === 'NotFound') return;
      throw translateS3Error(err, `delete ${key}`);
    }
  }

  async checkHealth(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: AbortSignal.timeout(this.requestTimeoutMs) });
    } catch (err) {
      const status = statusOf(err);
      const reason =
        status === 404
          ? `bucket "${this.bucket}" does not exist`
          : status === 403 || status === 401
            ? `access to bucket "${this.bucket}" denied (check credentials)`
            : errorName(err) === 'AbortError'
              ? `no answer within ${this.requestTimeoutMs} ms`
              : describeError(err);
      throw new StorageUnavailableError(`S3 storage unhealthy: ${reason}`, err);
    }
  }

  /** Replaces the bucket's CORS configuration with these rules (PutBucketCors). */
  async putBucketCors(rules: BucketCorsRule[]): Promise<void> {
    try {
      await this.client.send(new PutBucketCorsCommand({ Bucket: this.bucket, CORSConfiguration: { CORSRules: rules } }), {
        abortSignal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      throw translateS3Error(err, `PutBucketCors on "${this.bucket}"`);
    }
  }
}

function assertRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
}
