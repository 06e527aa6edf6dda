import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketCorsCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { readCacheControl } from '../cache-control';
import type { BucketCorsRule } from '../cors/bucket-cors.rule';
import { contentDisposition } from '../content-disposition';
import {
  assertPartNumber,
  ByteRange,
  CopyCapableStorage,
  ListableStorage,
  ListedObject,
  InvalidPartError,
  MultipartCapableStorage,
  MultipartUploadRef,
  ObjectInfo,
  PresignedPost,
  PresignedPut,
  PresignGetParams,
  PresignPostParams,
  PresignPutParams,
  PutObjectParams,
  StorageDriver,
  StorageNotFoundError,
  StorageClassName,
  StorageUnavailableError,
  TieredStorage,
  StoredPart,
} from '../storage-driver';

export interface S3StorageDriverOptions {
  bucket: string;
  region: string;
  /** S3-compatible endpoint (MinIO, Garage, the test emulator); omit for AWS. */
  endpoint?: string;
  forcePathStyle: boolean;
  /**
   * Endpoint clients use for signed URLs when it differs from the one this service reaches
   * (e.g. http://localhost:9000 outside Docker vs http://minio:9000 inside). Defaults to `endpoint`.
   */
  publicEndpoint?: string;
  /** Omit both to use the SDK's default credential chain (env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Bounds connecting, waiting for a response, and any stall of a transfer. */
  requestTimeoutMs: number;
  /**
   * Bound on CompleteMultipartUpload, which answers only once the store has assembled the object (S3 keeps the
   * connection alive meanwhile; S3-compatible stores may stay silent for minutes on a large object). Default 15 min.
   */
  completeMultipartTimeoutMs?: number;
}

/** Multipart part size for writes of unknown length: at most queueSize × this is buffered. */
const UPLOAD_PART_SIZE = 8 * 1024 * 1024;
const UPLOAD_QUEUE_SIZE = 2;
/** CopyObject's limit; above it a copy streams. */
const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;

/** Error names/codes that mean "the store could not be reached or failed", not "the request was wrong". */
const UNAVAILABLE_NAMES = new Set([
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
  'NetworkingError',
  'ServiceUnavailable',
  'SlowDown',
  'InternalError',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
]);

const NETWORK_CODE_IN_MESSAGE = /\b(ECONNREFUSED|ECONNRESET|ECONNABORTED|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/;

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
}

function statusOf(err: unknown): number | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

function isNoSuchUpload(err: unknown): boolean {
  const e = err as SdkErrorShape | undefined;
  return e?.name === 'NoSuchUpload' || e?.code === 'NoSuchUpload' || (statusOf(err) === 404 && e?.name !== 'NoSuchBucket');
}

function isNotFound(err: unknown): boolean {
  const e = err as SdkErrorShape | undefined;
  return statusOf(err) === 404 || e?.name === 'NotFound' || e?.name === 'NoSuchKey';
}

function isUnavailable(err: unknown): boolean {
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  const e = err as SdkErrorShape | undefined;
  if (!e || typeof e !== 'object') return false;
  if ((e.name && UNAVAILABLE_NAMES.has(e.name)) || (e.code && UNAVAILABLE_NAMES.has(e.code))) return true;
  // The SDK's retry layer attaches $metadata to every error it saw; without an HTTP status no response
  // arrived (a transport failure). It may also have replaced the original error by a bare Error whose
  // message is all that is left (it does so for errors from another realm, e.g. under jest).
  if (e.$metadata && status === undefined) return true;
  if (typeof e.message === 'string' && NETWORK_CODE_IN_MESSAGE.test(e.message)) return true;
  // Node's network errors sometimes arrive wrapped (AggregateError from happy-eyeballs, or `cause`).
  const inner = (e as { errors?: unknown[]; cause?: unknown }).errors?.[0] ?? (e as { cause?: unknown }).cause;
  return inner !== undefined && inner !== err && isUnavailable(inner);
}

function describeError(err: unknown): string {
  const e = err as SdkErrorShape | undefined;
  const status = statusOf(err);
  const parts = [e?.name, e?.code && e.code !== e.name ? e.code : undefined, status ? `HTTP ${status}` : undefined];
  const label = parts.filter(Boolean).join(' ');
  return label ? `${label}: ${e?.message ?? String(err)}` : String(e?.message ?? err);
}

/**
 * StorageDriver on S3 or an S3-compatible store (one bucket).
 *
 * Timeouts: connection and time-to-response are bounded by `requestTimeoutMs`, and so is any stall
 * (socket inactivity) while a body streams; the SDK retries up to 3 attempts. Unreachable store,
 * timeouts, 5xx and throttling surface as StorageUnavailableError.
 */
export class S3StorageDriver implements StorageDriver, CopyCapableStorage, ListableStorage, TieredStorage, MultipartCapableStorage {
  readonly kind = 's3' as const;
  readonly bucket: string;
  private readonly client: S3Client;
  /** Signs URLs for clients (differs from `client` only when a public endpoint is configured). */
  private readonly presignClient: S3Client;
  private readonly requestTimeoutMs: number;
  /** Same as `client`, with a socket timeout long enough for CompleteMultipartUpload. */
  private readonly completeClient: S3Client;

  constructor(options: S3StorageDriverOptions) {
    if (!options.bucket) throw new Error('S3StorageDriver: bucket is required');
    if (!(options.requestTimeoutMs > 0)) throw new Error('S3StorageDriver: requestTimeoutMs must be positive');
    if (Boolean(options.accessKeyId) !== Boolean(options.secretAccessKey)) {
      throw new Error('S3StorageDriver: set both accessKeyId and secretAccessKey, or neither');
    }
    this.bucket = options.bucket;
    this.requestTimeoutMs = options.requestTimeoutMs;
    const timeout = options.requestTimeoutMs;
    const clientConfig: S3ClientConfig = {
      region: options.region,
      endpoint: options.endpoint || undefined,
      forcePathStyle: options.forcePathStyle,
      credentials:
        options.accessKeyId && options.secretAccessKey
          ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
          : undefined,
      // Defaults ('WHEN_SUPPORTED') make streamed PUTs aws-chunked with trailing checksums, which
      // S3-compatible stores mishandle, and add checksum parameters to presigned URLs.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: timeout,
        // Time until the response headers arrive (per attempt). Writes of known length override it
        // per request, since a large body may legitimately take longer to send.
        requestTimeout: timeout,
        throwOnRequestTimeout: true,
        // Inactivity on the socket, also while a response body is being streamed to a caller.
        socketTimeout: timeout,
      }),
    };
    this.client = new S3Client(clientConfig);
    this.client.middlewareStack.add(stripBucketTrailingSlash(options.bucket), {
      step: 'build',
      name: 'stripBucketTrailingSlash',
      override: true,
    });
    const completeTimeout = Math.max(options.completeMultipartTimeoutMs ?? 15 * 60_000, timeout);
    this.completeClient = new S3Client({
      ...clientConfig,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: timeout,
        requestTimeout: completeTimeout,
        throwOnRequestTimeout: true,
        socketTimeout: completeTimeout,
      }),
    });
    this.completeClient.middlewareStack.add(stripBucketTrailingSlash(options.bucket), {
      step: 'build',
      name: 'stripBucketTrailingSlash',
      override: true,
    });
    this.presignClient =
      options.publicEndpoint && options.publicEndpoint !== options.endpoint
        ? new S3Client({ ...clientConfig, endpoint: options.publicEndpoint })
        : this.client;
  }

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
      throw this.translate(err, `head ${key}`);
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    if (range) assertRange(range);
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      if (!res.Body) throw new StorageUnavailableError(`S3 returned no body for ${key}`);
      return res.Body as Readable;
    } catch (err) {
      if (err instanceof StorageUnavailableError) throw err;
      if (isNotFound(err)) throw new StorageNotFoundError(key);
      throw this.translate(err, `read ${key}`);
    }
  }

  async write({ key, body, contentType, contentLength }: PutObjectParams): Promise<void> {
    try {
      if (contentLength !== undefined) {
        if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
          throw new RangeError(`invalid contentLength ${contentLength}`);
        }
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: body,
            ContentType: contentType,
            ContentLength: contentLength,
          }),
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
      throw this.translate(err, `write ${key}`);
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
        new CopyObjectCommand({ Bucket: this.bucket, Key: toKey, CopySource: `${this.bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}` }),
        // A large server-side copy may take a while before S3 answers.
        { requestTimeout: 0 },
      );
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(fromKey);
      throw this.translate(err, `copy ${fromKey} to ${toKey}`);
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
        throw this.translate(err, `list ${prefix}`);
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
    if (info.size > MAX_SINGLE_COPY_BYTES) throw new Error(`changing the storage class of ${key} (${info.size} bytes > 5 GiB) needs a multipart copy`);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: key,
          CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
          StorageClass: storageClass,
          MetadataDirective: 'REPLACE',
          ContentType: info.contentType,
        }),
        { requestTimeout: 0 },
      );
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(key);
      throw this.translate(err, `set storage class of ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      // S3 answers 204 for an absent key; some compatible stores answer 404 NoSuchKey. A missing
      // bucket (NoSuchBucket) is not "already deleted" and is not swallowed.
      const name = (err as SdkErrorShape | undefined)?.name;
      if (name === 'NoSuchKey' || name === 'NotFound') return;
      throw this.translate(err, `delete ${key}`);
    }
  }

  async presignPut({
    key,
    contentType,
    contentLength,
    checksumSha256,
    expiresInSeconds,
  }: PresignPutParams): Promise<PresignedPut> {
    if (!Number.isSafeInteger(contentLength) || contentLength < 0) {
      throw new RangeError(`invalid contentLength ${contentLength}`);
    }
    const headers: Record<string, string> = {
      'Content-Type': contentType,
      'Content-Length': String(contentLength),
    };
    const signableHeaders = new Set(['content-type', 'content-length']);
    const unhoistableHeaders = new Set<string>();
    let checksumBase64: string | undefined;
    if (checksumSha256 !== undefined) {
      if (!/^[0-9a-fA-F]{64}$/.test(checksumSha256)) throw new RangeError('checksumSha256 must be 64 hex digits');
      checksumBase64 = Buffer.from(checksumSha256, 'hex').toString('base64');
      headers['x-amz-checksum-sha256'] = checksumBase64;
      signableHeaders.add('x-amz-checksum-sha256');
      unhoistableHeaders.add('x-amz-checksum-sha256');
    }
    const url = await getSignedUrl(
      this.presignClient,
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: contentType,
        ContentLength: contentLength,
        ChecksumSHA256: checksumBase64,
      }),
      { expiresIn: expiresInSeconds, signableHeaders, unhoistableHeaders },
    );
    assertNoChecksumQuery(url);
    return { url, method: 'PUT', headers };
  }

  async presignPost({
    key,
    contentType,
    minBytes,
    maxBytes,
    expiresInSeconds,
  }: PresignPostParams): Promise<PresignedPost> {
    if (!Number.isSafeInteger(minBytes) || !Number.isSafeInteger(maxBytes) || minBytes < 0 || maxBytes < minBytes) {
      throw new RangeError(`invalid size range ${minBytes}..${maxBytes}`);
    }
    const { url, fields } = await createPresignedPost(this.presignClient, {
      Bucket: this.bucket,
      Key: key,
      Conditions: [
        ['content-length-range', minBytes, maxBytes],
        ['eq', '$Content-Type', contentType],
      ],
      Fields: { 'Content-Type': contentType },
      Expires: expiresInSeconds,
    });
    return { url, method: 'POST', fields };
  }

  async presignGet({ key, expiresInSeconds, downloadFilename, contentType, contentSha256, cacheScope }: PresignGetParams): Promise<string> {
    // S3 cannot check the bytes against contentSha256 (its ETag is not a SHA-256); our keys never change content.
    const cacheControl =
      contentSha256 !== undefined || cacheScope !== undefined
        ? readCacheControl({ scope: cacheScope, maxAgeSeconds: expiresInSeconds, contentAddressed: contentSha256 !== undefined })
        : undefined;
    return getSignedUrl(
      this.presignClient,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentDisposition:
          downloadFilename !== undefined ? contentDisposition(downloadFilename, 'attachment') : undefined,
        ResponseContentType: contentType,
        ResponseCacheControl: cacheControl,
      }),
      { expiresIn: expiresInSeconds },
    );
  }

  async checkHealth(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), {
        abortSignal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      const status = statusOf(err);
      const reason =
        status === 404
          ? `bucket "${this.bucket}" does not exist`
          : status === 403 || status === 401
            ? `access to bucket "${this.bucket}" denied (check credentials)`
            : (err as SdkErrorShape)?.name === 'AbortError'
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
      throw this.translate(err, `PutBucketCors on "${this.bucket}"`);
    }
  }

  // ---- multipart ----------------------------------------------------------------------------------------

  async createMultipartUpload({ key, contentType }: { key: string; contentType: string }): Promise<{ uploadId: string }> {
    try {
      const res = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }));
      if (!res.UploadId) throw new StorageUnavailableError(`S3 returned no UploadId for ${key}`);
      return { uploadId: res.UploadId };
    } catch (err) {
      throw this.translate(err, `create multipart upload ${key}`);
    }
  }

  /** Signs Content-Length (as presignPut does), so the store refuses a part of any other size. */
  async presignUploadPart({
    key,
    uploadId,
    partNumber,
    contentLength,
    expiresInSeconds,
  }: {
    key: string;
    uploadId: string;
    partNumber: number;
    contentLength: number;
    expiresInSeconds: number;
  }): Promise<PresignedPut> {
    assertPartNumber(partNumber);
    if (!Number.isSafeInteger(contentLength) || contentLength < 0) throw new RangeError(`invalid contentLength ${contentLength}`);
    const url = await getSignedUrl(
      this.presignClient,
      new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: contentLength }),
      { expiresIn: expiresInSeconds, signableHeaders: new Set(['content-length']) },
    );
    assertNoChecksumQuery(url);
    return { url, method: 'PUT', headers: { 'Content-Length': String(contentLength) } };
  }

  async uploadPart({
    key,
    uploadId,
    partNumber,
    body,
    contentLength,
  }: {
    key: string;
    uploadId: string;
    partNumber: number;
    body: Readable;
    contentLength: number;
  }): Promise<{ etag: string }> {
    assertPartNumber(partNumber);
    if (!Number.isSafeInteger(contentLength) || contentLength < 0) throw new RangeError(`invalid contentLength ${contentLength}`);
    try {
      const res = await this.client.send(
        new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: contentLength }),
        // The body may be large; stalls are still bounded by socketTimeout.
        { requestTimeout: 0 },
      );
      if (!res.ETag) throw new StorageUnavailableError(`S3 returned no ETag for part ${partNumber} of ${key}`);
      return { etag: res.ETag };
    } catch (err) {
      if (isNoSuchUpload(err)) throw new StorageNotFoundError(key);
      throw this.translate(err, `upload part ${partNumber} of ${key}`);
    }
  }

  async listParts({ key, uploadId }: { key: string; uploadId: string }): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    try {
      for (let page = 0; page < 1000; page++) {
        const res = await this.client.send(new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
        for (const p of res.Parts ?? []) {
          if (p.PartNumber === undefined || !p.ETag) continue;
          parts.push({ partNumber: p.PartNumber, etag: quoteEtag(p.ETag), size: Number(p.Size ?? 0), lastModified: p.LastModified });
        }
        if (!res.IsTruncated || !res.NextPartNumberMarker) break;
        marker = String(res.NextPartNumberMarker);
      }
    } catch (err) {
      if (isNoSuchUpload(err)) throw new StorageNotFoundError(key);
      throw this.translate(err, `list parts of ${key}`);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload({
    key,
    uploadId,
    parts,
  }: {
    key: string;
    uploadId: string;
    parts: Array<{ partNumber: number; etag: string }>;
  }): Promise<ObjectInfo> {
    for (const p of parts) assertPartNumber(p.partNumber);
    try {
      await this.completeClient.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: quoteEtag(p.etag) })) },
        }),
      );
    } catch (err) {
      const name = (err as SdkErrorShape | undefined)?.name;
      if (name === 'InvalidPart' || name === 'InvalidPartOrder' || name === 'EntityTooSmall') {
        throw new InvalidPartError(0, `S3 refused the part list of ${key}: ${describeError(err)}`);
      }
      if (isNoSuchUpload(err)) throw new StorageNotFoundError(key);
      throw this.translate(err, `complete multipart upload ${key}`);
    }
    const info = await this.head(key);
    if (!info) throw new StorageUnavailableError(`S3 completed ${key} but does not show it yet`);
    return info;
  }

  async abortMultipartUpload({ key, uploadId }: { key: string; uploadId: string }): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if (isNoSuchUpload(err)) return;
      throw this.translate(err, `abort multipart upload ${key}`);
    }
  }

  async listMultipartUploads({ prefix }: { prefix?: string } = {}): Promise<MultipartUploadRef[]> {
    const uploads: MultipartUploadRef[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (let page = 0; page < 10_000; page++) {
        const res = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
        for (const u of res.Uploads ?? []) if (u.Key && u.UploadId) uploads.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
        if (!res.IsTruncated) break;
        keyMarker = res.NextKeyMarker;
        uploadIdMarker = res.NextUploadIdMarker;
        if (!keyMarker && !uploadIdMarker) break;
      }
    } catch (err) {
      throw this.translate(err, 'list multipart uploads');
    }
    return uploads;
  }

  /** Releases the HTTP agent's sockets. */
  destroy(): void {
    this.client.destroy();
    this.completeClient.destroy();
  }

  private translate(err: unknown, what: string): Error {
    if (err instanceof StorageUnavailableError) return err;
    if (isUnavailable(err)) return new StorageUnavailableError(`S3 ${what} failed: ${describeError(err)}`, err);
    return err instanceof Error ? err : new Error(`S3 ${what} failed: ${describeError(err)}`);
  }
}

function quoteEtag(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function assertRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
}

/** Presigned PUT URLs must not carry SDK checksum parameters: the client could not satisfy them. */
function assertNoChecksumQuery(url: string): void {
  for (const name of new URL(url).searchParams.keys()) {
    const n = name.toLowerCase();
    if (n.startsWith('x-amz-checksum-') || n === 'x-amz-sdk-checksum-algorithm') {
      throw new Error(`presigned URL unexpectedly carries ${name}; check the SDK checksum settings`);
    }
  }
}

/**
 * Path-style bucket-level requests (HeadBucket, ListObjectsV2…) are sent to `/<bucket>/`. S3 accepts
 * that, but some S3-compatible stores (the @20minutes/s3rver emulator) canonicalise the resource as
 * `/<bucket>` and reject the signature. `/<bucket>` means the same to every store, so send that.
 * Runs in the build step, before signing; object paths are never touched.
 */
function stripBucketTrailingSlash(bucket: string) {
  const bucketPath = `/${bucket}/`;
  return <Args extends { request: unknown }, Out>(next: (args: Args) => Promise<Out>) =>
    async (args: Args): Promise<Out> => {
      const req = args.request as { path?: unknown } | undefined;
      if (req && typeof req === 'object' && req.path === bucketPath) req.path = bucketPath.slice(0, -1);
      return next(args);
    };
}
