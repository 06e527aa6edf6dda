import { getSignedUrl } from '@aws-sdk/cloudfront-signer';

export interface CloudFrontSignerOptions {
  baseUrl: string;
  keyPairId: string;
  privateKey: string;
  hash: 'SHA1' | 'SHA256';
}

/** CloudFront URLs for object keys: plain (public assets) or signed with a canned policy (everything else). */
export class CloudFrontUrlSigner {
  private readonly baseUrl: string;

  constructor(private readonly options: CloudFrontSignerOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** The object's URL on the distribution (its origin is the primary region's bucket; keys map 1:1 to paths). */
  objectUrl(key: string): string {
    return `${this.baseUrl}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * A URL CloudFront serves until `expiresAt`. `query` (e.g. response-content-disposition) is part of what is
   * signed; the distribution's origin request policy must forward it for S3 to apply it.
   */
  sign(key: string, expiresAt: Date, query: Record<string, string> = {}): string {
    const qs = new URLSearchParams(query).toString();
    return getSignedUrl({
      url: qs ? `${this.objectUrl(key)}?${qs}` : this.objectUrl(key),
      keyPairId: this.options.keyPairId,
      privateKey: this.options.privateKey,
      dateLessThan: expiresAt,
      algorithm: this.options.hash,
    });
  }

  /** Path of the object on the distribution, as CreateInvalidation wants it. */
  invalidationPath(key: string): string {
    return new URL(this.objectUrl(key)).pathname;
  }
}
