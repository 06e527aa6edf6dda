import type { Readable } from 'node:stream';
import {
  BucketCorsRule,
  BucketCorsStorage,
  ByteRange,
  CopyCapableStorage,
  ListableStorage,
  ListedObject,
  ManagedStorage,
  MultipartCapableStorage,
  MultipartUploadRef,
  ObjectInfo,
  PresignedPost,
  PresignedPut,
  PresignGetParams,
  PresignPostParams,
  PresignPutParams,
  PutObjectParams,
  StorageClassName,
  StorageDriver,
  StoredPart,
  TieredStorage,
  CompleteMultipartParams,
  MultipartUploadId,
  PresignUploadPartParams,
  UploadPartParams,
} from '../storage-driver';
import { createS3Clients, S3Clients, S3StorageDriverOptions } from './s3/s3-clients';
import { S3Multipart } from './s3/s3-multipart';
import { S3ObjectStore } from './s3/s3-object-store';
import { S3UrlSigner } from './s3/s3-url-signer';

export type { S3StorageDriverOptions } from './s3/s3-clients';

/**
 * StorageDriver on S3 or an S3-compatible store (one bucket).
 *
 * Timeouts: connection and time-to-response are bounded by `requestTimeoutMs`, and so is any stall
 * (socket inactivity) while a body streams; the SDK retries up to 3 attempts. Unreachable store,
 * timeouts, 5xx and throttling surface as StorageUnavailableError.
 *
 * The work is done by collaborators, one concern each: S3ObjectStore (object and bucket requests), S3UrlSigner
 * (signed URLs and form policies) and S3Multipart (the multipart API); s3-clients.ts builds the SDK clients.
 */
export class S3StorageDriver
  implements StorageDriver, CopyCapableStorage, ListableStorage, TieredStorage, MultipartCapableStorage, BucketCorsStorage, ManagedStorage
{
  readonly kind = 's3' as const;
  readonly bucket: string;
  private readonly clients: S3Clients;
  private readonly objects: S3ObjectStore;
  private readonly signer: S3UrlSigner;
  private readonly multipart: S3Multipart;

  constructor(options: S3StorageDriverOptions) {
    if (!options.bucket) throw new Error('S3StorageDriver: bucket is required');
    if (!(options.requestTimeoutMs > 0)) throw new Error('S3StorageDriver: requestTimeoutMs must be positive');
    if (Boolean(options.accessKeyId) !== Boolean(options.secretAccessKey)) {
      throw new Error('S3StorageDriver: set both accessKeyId and secretAccessKey, or neither');
    }
    this.bucket = options.bucket;
    this.clients = createS3Clients(options);
    this.objects = new S3ObjectStore(this.clients.client, this.bucket, options.requestTimeoutMs);
    this.signer = new S3UrlSigner(this.clients.presignClient, this.bucket);
    this.multipart = new S3Multipart(this.clients.client, this.clients.completeClient, this.bucket, (key) => this.objects.head(key));
  }

  /** The bucket is the operator's: nothing to create. */
  async init(): Promise<void> {}

  /** Releases the HTTP agent's sockets. */
  destroy(): void {
    this.clients.client.destroy();
    this.clients.completeClient.destroy();
  }

  describeLocation(): string {
    return 'on S3';
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.objects.head(key);
  }

  read(key: string, range?: ByteRange): Promise<Readable> {
    return this.objects.read(key, range);
  }

  write(params: PutObjectParams): Promise<void> {
    return this.objects.write(params);
  }

  copy(params: { fromKey: string; toKey: string }): Promise<void> {
    return this.objects.copy(params);
  }

  listObjects(params: { prefix: string; pageSize?: number }): AsyncIterable<ListedObject[]> {
    return this.objects.listObjects(params);
  }

  setStorageClass(params: { key: string; storageClass: StorageClassName }): Promise<void> {
    return this.objects.setStorageClass(params);
  }

  delete(key: string): Promise<void> {
    return this.objects.delete(key);
  }

  presignPut(params: PresignPutParams): Promise<PresignedPut> {
    return this.signer.presignPut(params);
  }

  presignPost(params: PresignPostParams): Promise<PresignedPost> {
    return this.signer.presignPost(params);
  }

  presignGet(params: PresignGetParams): Promise<string> {
    return this.signer.presignGet(params);
  }

  checkHealth(): Promise<void> {
    return this.objects.checkHealth();
  }

  /** Replaces the bucket's CORS configuration with these rules (PutBucketCors). */
  putBucketCors(rules: BucketCorsRule[]): Promise<void> {
    return this.objects.putBucketCors(rules);
  }

  // ---- MultipartCapableStorage ------------------------------------------------------------------------

  createMultipartUpload(params: { key: string; contentType: string }): Promise<{ uploadId: string }> {
    return this.multipart.createMultipartUpload(params);
  }

  presignUploadPart(params: PresignUploadPartParams): Promise<PresignedPut> {
    return this.signer.presignUploadPart(params);
  }

  uploadPart(params: UploadPartParams): Promise<{ etag: string }> {
    return this.multipart.uploadPart(params);
  }

  listParts(params: MultipartUploadId): Promise<StoredPart[]> {
    return this.multipart.listParts(params);
  }

  completeMultipartUpload(params: CompleteMultipartParams): Promise<ObjectInfo> {
    return this.multipart.completeMultipartUpload(params);
  }

  abortMultipartUpload(params: MultipartUploadId): Promise<void> {
    return this.multipart.abortMultipartUpload(params);
  }

  listMultipartUploads(params: { prefix?: string } = {}): Promise<MultipartUploadRef[]> {
    return this.multipart.listMultipartUploads(params);
  }
}
