import { createHmac, timingSafeEqual } from 'node:crypto';
import { PresignedPost, PresignedPut, PresignGetParams, PresignPostParams, PresignPutParams } from '../../storage-driver';
import { LocalRequestError } from './local-request.error';

export const LOCAL_URL_PREFIX = '/storage';

/** What a verified signature allows. */
export interface SignedPutGrant {
  key: string;
  contentType: string;
  contentLength: number;
  checksumSha256?: string;
}

export interface SignedPostPolicy {
  key: string;
  contentType: string;
  min: number;
  max: number;
  exp: number;
}

/** Always part of the canonical string (empty when absent). */
const SIGNED_PARAMS = ['X-Media-Method', 'X-Media-Expires', 'X-Media-Length', 'X-Media-Type', 'X-Media-Checksum', 'X-Media-Filename'];

/**
 * Signed when present, and only then part of the canonical string, so URLs signed before these existed
 * keep their signatures: X-Media-Sha256 makes a read URL content-addressed, X-Media-Cache=public lets
 * shared caches keep the response, X-Media-Modified (Unix seconds) is the Last-Modified served instead of the file's, X-Media-Upload-Id + X-Media-Part make a PUT URL one part of a multipart upload.
 */
const OPTIONAL_SIGNED_PARAMS = [
  'X-Media-Sha256',
  'X-Media-Cache',
  'X-Media-Upload-Id',
  'X-Media-Part',
  'X-Media-Modified',
  'X-Media-Max-Age',
];

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * The local driver's signed URLs: `<baseUrl><urlPrefix>/<bucket>/<key>?X-Media-…&X-Media-Signature=…`, an
 * HMAC-SHA256 over the bucket, the key and everything the URL allows (method, expiry, size, type, checksum…).
 * Browser form uploads carry a signed policy instead. Verification is constant-time.
 */
export class LocalUrlSigner {
  private readonly secret: Buffer;

  constructor(
    private readonly bucket: string,
    private readonly baseUrl: string,
    private readonly urlPrefix: string,
    signingSecret: string,
  ) {
    if (signingSecret.length < 32) throw new Error('signing secret must be at least 32 characters');
    this.secret = Buffer.from(signingSecret);
  }

  presignPut(p: PresignPutParams): PresignedPut {
    const q: Record<string, string> = {
      'X-Media-Method': 'PUT',
      'X-Media-Expires': String(nowSeconds() + p.expiresInSeconds),
      'X-Media-Length': String(p.contentLength),
      'X-Media-Type': p.contentType,
    };
    if (p.checksumSha256) q['X-Media-Checksum'] = p.checksumSha256;
    // The size is bound by the signature (X-Media-Length) and checked against Content-Length, which the client's HTTP
    // stack sets from the body (browsers refuse to let a script set it): the grant lists only headers a client sets.
    const headers: Record<string, string> = { 'Content-Type': p.contentType };
    if (p.checksumSha256) headers['x-amz-checksum-sha256'] = Buffer.from(p.checksumSha256, 'hex').toString('base64');
    return { url: this.signedUrl(p.key, q), method: 'PUT', headers };
  }

  /** One part of a multipart upload: a PUT bound to the part's exact size (the caller checked the upload id). */
  presignPart(p: { key: string; uploadId: string; partNumber: number; contentLength: number; expiresInSeconds: number }): PresignedPut {
    const q: Record<string, string> = {
      'X-Media-Method': 'PUT',
      'X-Media-Expires': String(nowSeconds() + p.expiresInSeconds),
      'X-Media-Length': String(p.contentLength),
      'X-Media-Upload-Id': p.uploadId,
      'X-Media-Part': String(p.partNumber),
    };
    return { url: this.signedUrl(p.key, q), method: 'PUT', headers: {} };
  }

  presignPost(p: PresignPostParams): PresignedPost {
    const policy: SignedPostPolicy = {
      key: p.key,
      contentType: p.contentType,
      min: p.minBytes,
      max: p.maxBytes,
      exp: nowSeconds() + p.expiresInSeconds,
    };
    const encoded = Buffer.from(JSON.stringify(policy)).toString('base64url');
    return {
      url: `${this.baseUrl}${this.urlPrefix}/${this.bucket}`,
      method: 'POST',
      fields: { key: p.key, 'Content-Type': p.contentType, policy: encoded, signature: this.hmac(this.postCanonical(encoded)) },
    };
  }

  presignGet(p: PresignGetParams): string {
    const q: Record<string, string> = {
      'X-Media-Method': 'GET',
      'X-Media-Expires': String(nowSeconds() + p.expiresInSeconds),
    };
    if (p.contentType) q['X-Media-Type'] = p.contentType;
    if (p.downloadFilename !== undefined) q['X-Media-Filename'] = p.downloadFilename;
    if (p.contentSha256 !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(p.contentSha256)) throw new RangeError('contentSha256 must be 64 lower-case hex digits');
      q['X-Media-Sha256'] = p.contentSha256;
    }
    if (p.cacheScope === 'public') q['X-Media-Cache'] = 'public';
    if (p.lastModified) q['X-Media-Modified'] = String(Math.floor(p.lastModified.getTime() / 1000));
    if (p.cacheMaxAgeSeconds !== undefined && p.contentSha256 !== undefined)
      q['X-Media-Max-Age'] = String(Math.floor(p.cacheMaxAgeSeconds));
    return this.signedUrl(p.key, q);
  }

  /** Checks a signed URL's signature (constant-time) and expiry for `method`; returns its parameters. */
  verifyUrl(key: string, query: URLSearchParams, method: 'GET' | 'PUT'): Record<string, string | undefined> {
    const q: Record<string, string | undefined> = {};
    for (const n of [...SIGNED_PARAMS, ...OPTIONAL_SIGNED_PARAMS]) q[n] = query.get(n) ?? undefined;
    const sig = query.get('X-Media-Signature') ?? '';
    if (!sig || !safeEqual(sig, this.hmac(this.canonical(key, q)))) {
      throw new LocalRequestError(403, 'SignatureDoesNotMatch', 'The URL signature does not match');
    }
    if (q['X-Media-Method'] !== method) throw new LocalRequestError(403, 'SignatureDoesNotMatch', `This URL is not signed for ${method}`);
    const exp = Number(q['X-Media-Expires']);
    if (!Number.isFinite(exp) || exp * 1000 < Date.now()) throw new LocalRequestError(403, 'AccessDenied', 'The signed URL has expired');
    return q;
  }

  verifyPostPolicy(encoded: string, signature: string): SignedPostPolicy {
    if (!encoded || !signature || !safeEqual(signature, this.hmac(this.postCanonical(encoded)))) {
      throw new LocalRequestError(403, 'SignatureDoesNotMatch', 'The form policy signature does not match');
    }
    const policy = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8')) as SignedPostPolicy;
    if (policy.exp * 1000 < Date.now()) throw new LocalRequestError(403, 'AccessDenied', 'The form policy has expired');
    return policy;
  }

  private canonical(key: string, q: Record<string, string | undefined>): string {
    const optional = OPTIONAL_SIGNED_PARAMS.filter((n) => q[n] !== undefined).map((n) => `${n}=${q[n]}`);
    return ['v1', this.bucket, key, ...SIGNED_PARAMS.map((n) => `${n}=${q[n] ?? ''}`), ...optional].join('\n');
  }

  private postCanonical(encodedPolicy: string): string {
    return `post\n${this.bucket}\n${encodedPolicy}`;
  }

  private hmac(s: string): string {
    return createHmac('sha256', this.secret).update(s).digest('hex');
  }

  private signedUrl(key: string, q: Record<string, string>): string {
    const params = new URLSearchParams({ ...q, 'X-Media-Signature': this.hmac(this.canonical(key, q)) });
    const encodedKey = key.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl}${this.urlPrefix}/${this.bucket}/${encodedKey}?${params.toString()}`;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
