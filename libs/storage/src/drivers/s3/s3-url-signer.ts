import { GetObjectCommand, PutObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { readCacheControl } from '../../cache-control';
import { contentDisposition } from '../../content-disposition';
import {
  assertPartNumber,
  PresignedPost,
  PresignedPut,
  PresignGetParams,
  PresignPostParams,
  PresignPutParams,
  PresignUploadPartParams,
} from '../../storage-driver';

/**
 * Signed URLs for one bucket (SigV4 query signatures, and form POST policies), made with the client that knows the
 * endpoint clients reach. A PUT signs its exact Content-Length (and checksum), so the store refuses any other body.
 * The headers handed to the client are the ones it must set itself; Content-Length is signed but left out of them:
 * every HTTP client sends it for a body of known size (browsers refuse to let a script set it), and must not stream
 * the body chunked.
 */
export class S3UrlSigner {
  constructor(
    private readonly presignClient: S3Client,
    private readonly bucket: string,
  ) {}

  async presignPut({ key, contentType, contentLength, checksumSha256, expiresInSeconds }: PresignPutParams): Promise<PresignedPut> {
    assertLength(contentLength);
    const headers: Record<string, string> = { 'Content-Type': contentType };
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

  async presignPost({ key, contentType, minBytes, maxBytes, expiresInSeconds }: PresignPostParams): Promise<PresignedPost> {
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

  async presignGet({
    key,
    expiresInSeconds,
    downloadFilename,
    contentType,
    contentSha256,
    cacheScope,
    cacheMaxAgeSeconds,
  }: PresignGetParams): Promise<string> {
    // S3 cannot check the bytes against contentSha256 (its ETag is not a SHA-256); our keys never change content.
    const cacheControl =
      contentSha256 !== undefined || cacheScope !== undefined
        ? readCacheControl({
            scope: cacheScope,
            maxAgeSeconds: contentSha256 !== undefined && cacheMaxAgeSeconds !== undefined ? cacheMaxAgeSeconds : expiresInSeconds,
            contentAddressed: contentSha256 !== undefined,
          })
        : undefined;
    return getSignedUrl(
      this.presignClient,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentDisposition: downloadFilename !== undefined ? contentDisposition(downloadFilename, 'attachment') : undefined,
        ResponseContentType: contentType,
        ResponseCacheControl: cacheControl,
      }),
      { expiresIn: expiresInSeconds },
    );
  }

  /** Signs Content-Length (as presignPut does), so the store refuses a part of any other size. */
  async presignUploadPart(p: PresignUploadPartParams): Promise<PresignedPut> {
    assertPartNumber(p.partNumber);
    assertLength(p.contentLength);
    const url = await getSignedUrl(
      this.presignClient,
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: p.key,
        UploadId: p.uploadId,
        PartNumber: p.partNumber,
        ContentLength: p.contentLength,
      }),
      { expiresIn: p.expiresInSeconds, signableHeaders: new Set(['content-length']) },
    );
    assertNoChecksumQuery(url);
    return { url, method: 'PUT', headers: {} };
  }
}

export function assertLength(contentLength: number): void {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0) throw new RangeError(`invalid contentLength ${contentLength}`);
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
