import type { StorageRegionSettings } from '@app/core';
import { storageOrigins, uploadPageCsp } from './upload-page.csp';

const local: StorageRegionSettings = { name: 'a', primary: true, bucket: 'media', driver: 'local', root: '/data' };
const s3 = (over: Partial<StorageRegionSettings> = {}): StorageRegionSettings =>
  ({
    name: 'b',
    primary: false,
    bucket: 'media',
    driver: 's3',
    region: 'eu-west-1',
    forcePathStyle: true,
    requestTimeoutMs: 1000,
    ...over,
  }) as StorageRegionSettings;

describe('upload page CSP', () => {
  it('allows the service itself for a local region', () => {
    expect(storageOrigins({ storageRegions: [local] }, { publicBaseUrl: 'http://127.0.0.1:3000' })).toEqual(['http://127.0.0.1:3000']);
  });

  it('allows the storage origin for a local region when PUBLIC_STORAGE_URL names another one', () => {
    const storage = { storageRegions: [local], publicStorageUrl: 'https://storage.example.com/base' };
    const server = { publicBaseUrl: 'https://media.example.com' };
    expect(storageOrigins(storage, server)).toEqual(['https://storage.example.com']);
    const csp = uploadPageCsp(storage, server, { CDN_PROVIDER: 'none' });
    expect(csp).toContain("img-src 'self' blob: data: https://storage.example.com;");
    expect(csp).toContain("connect-src 'self' https://storage.example.com;");
  });

  it('allows the public S3 endpoint (not the internal one), and AWS hosts when no endpoint is set', () => {
    const regions = [s3({ endpoint: 'http://minio:9000', publicEndpoint: 'http://localhost:9000/' }), s3({ name: 'c' })];
    expect(storageOrigins({ storageRegions: regions }, { publicBaseUrl: 'http://x' })).toEqual([
      'http://localhost:9000',
      'https://*.amazonaws.com',
    ]);
  });

  it('has no inline script and lets images come from the CDN only when links go through it', () => {
    const storage = { storageRegions: [s3({ endpoint: 'http://127.0.0.1:9000' })] };
    const server = { publicBaseUrl: 'http://127.0.0.1:3000' };
    const none = uploadPageCsp(storage, server, { CDN_PROVIDER: 'none', CDN_BASE_URL: 'https://d1.cloudfront.net' });
    expect(none).toContain("script-src 'self';");
    expect(none).not.toContain('unsafe-inline');
    expect(none).toContain("connect-src 'self' http://127.0.0.1:9000");
    expect(none).not.toContain('cloudfront');
    const cf = uploadPageCsp(storage, server, { CDN_PROVIDER: 'cloudfront', CDN_BASE_URL: 'https://d1.cloudfront.net/' });
    expect(cf).toContain("img-src 'self' blob: data: http://127.0.0.1:9000 https://d1.cloudfront.net;");
  });
});
