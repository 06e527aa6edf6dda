export * from './cdn.module';
export { CdnService } from './cdn.service';
export type { ReadUrl, ReadUrlParams } from './cdn.service';
export { CDN_INVALIDATE_TOPIC, CDN_QUEUE } from './cdn.constants';
export { CloudFrontUrlSigner } from './cloudfront-url.signer';
