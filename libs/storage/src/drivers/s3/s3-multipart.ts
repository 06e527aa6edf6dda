import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  assertPartNumber,
  CompleteMultipartParams,
  InvalidPartError,
  MultipartUploadId,
  MultipartUploadRef,
  ObjectInfo,
  StorageNotFoundError,
  StorageUnavailableError,
  StoredPart,
  UploadPartParams,
} from '../../storage-driver';
import { describeError, errorName, isNoSuchUpload, quoteEtag, translateS3Error } from './s3-errors';
import { assertLength } from './s3-url-signer';

/** S3's multipart API on one bucket (part URLs are signed by S3UrlSigner). */
export class S3Multipart {
  constructor(
    private readonly client: S3Client,
    /** Same as `client`, with a socket timeout long enough for CompleteMultipartUpload. */
    private readonly completeClient: S3Client,
    private readonly bucket: string,
    /** The object's info once completed. */
    private readonly head: (key: string) => Promise<ObjectInfo | null>,
  ) {}

  async createMultipartUpload({ key, contentType }: { key: string; contentType: string }): Promise<{ uploadId: string }> {
    try {
      const res = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }));
      if (!res.UploadId) throw new StorageUnavailableError(`S3 returned no UploadId for ${key}`);
      return { uploadId: res.UploadId };
    } catch (err) {
      throw translateS3Error(err, `create multipart upload ${key}`);
    }
  }

  async uploadPart(p: UploadPartParams): Promise<{ etag: string }> {
    assertPartNumber(p.partNumber);
    assertLength(p.contentLength);
    try {
      const res = await this.client.send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: p.key,
          UploadId: p.uploadId,
          PartNumber: p.partNumber,
          Body: p.body,
          ContentLength: p.contentLength,
        }),
        // The body may be large; stalls are still bounded by socketTimeout.
        { requestTimeout: 0 },
      );
      if (!res.ETag) throw new StorageUnavailableError(`S3 returned no ETag for part ${p.partNumber} of ${p.key}`);
      return { etag: res.ETag };
    } catch (err) {
      if (isNoSuchUpload(err)) throw new StorageNotFoundError(p.key);
      throw translateS3Error(err, `upload part ${p.partNumber} of ${p.key}`);
    }
  }

  async listParts({ key, uploadId }: MultipartUploadId): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    try {
      for (let page = 0; page < 1000; page++) {
        const res = await this.client.send(
          new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
        );
        for (const p of res.Parts ?? []) {
          if (p.PartNumber === undefined || !p.ETag) continue;
          parts.push({ partNumber: p.PartNumber, etag: quoteEtag(p.ETag), size: Number(p.Size ?? 0), lastModified: p.LastModified });
        }
        if (!res.IsTruncated || !res.NextPartNumberMarker) break;
        marker = String(res.NextPartNumberMarker);
      }
    } catch (err) {
      if (isNoSuchUpload(err)) throw new StorageNotFoundError(key);
      throw translateS3Error(err, `list parts of ${key}`);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload({ key, uploadId, parts }: CompleteMultipartParams): Promise<ObjectInfo> {
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
      const name = errorName(err);
      if (name === 'InvalidPart' || name === 'InvalidPartOrder' || name === 'EntityTooSmall') {
        throw new InvalidPartError(0, `S3 refused the part list of ${key}: ${describeError(err)}`);
      }
      if (isNoSuchUpload(err)) throw new StorageNotFoundError(key);
      throw translateS3Error(err, `complete multipart upload ${key}`);
    }
    const info = await this.head(key);
    if (!info) throw new StorageUnavailableError(`S3 completed ${key} but does not show it yet`);
    return info;
  }

  async abortMultipartUpload({ key, uploadId }: MultipartUploadId): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if (isNoSuchUpload(err)) return;
      throw translateS3Error(err, `abort multipart upload ${key}`);
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
        for (const u of res.Uploads ?? [])
          if (u.Key && u.UploadId) uploads.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
        if (!res.IsTruncated) break;
        keyMarker = res.NextKeyMarker;
        uploadIdMarker = res.NextUploadIdMarker;
        if (!keyMarker && !uploadIdMarker) break;
      }
    } catch (err) {
      throw translateS3Error(err, 'list multipart uploads');
    }
    return uploads;
  }
}
