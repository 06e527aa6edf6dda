import { generateKeyPairSync } from 'node:crypto';
import { ConfigValidationError, loadConfig } from './app-config';

const problems = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigValidationError) return e.message;
    throw e;
  }
  throw new Error('expected the configuration to be refused');
};

describe('storage regions', () => {
  it('builds the one default region from the single-store variables when STORAGE_REGIONS is unset', () => {
    expect(loadConfig({}).storageRegions).toEqual([{ name: 'default', driver: 'local', primary: true, bucket: 'media', root: './data' }]);
    const s3 = loadConfig({
      STORAGE_DRIVER: 's3',
      STORAGE_BUCKET: 'pics',
      S3_ENDPOINT: 'http://minio:9000',
      S3_ACCESS_KEY_ID: 'a',
      S3_SECRET_ACCESS_KEY: 'b',
    });
    expect(s3.storageRegions).toEqual([
      expect.objectContaining({
        name: 'default',
        driver: 's3',
        primary: true,
        bucket: 'pics',
        endpoint: 'http://minio:9000',
        accessKeyId: 'a',
        secretAccessKey: 'b',
        region: 'us-east-1',
      }),
    ]);
  });

  it('reads STORAGE_REGIONS, inheriting what a region leaves out, with one primary', () => {
    const c = loadConfig({
      STORAGE_DRIVER: 's3',
      S3_ACCESS_KEY_ID: 'key',
      S3_SECRET_ACCESS_KEY: 'secret',
      S3_FORCE_PATH_STYLE: 'true',
      STORAGE_REGIONS: JSON.stringify([
        { name: 'eu', endpoint: 'http://eu.example:9000', bucket: 'media-eu' },
        { name: 'us', endpoint: 'http://us.example:9000', region: 'us-west-2', primary: true },
        { name: 'disk', driver: 'local', root: '/srv/media' },
      ]),
    });
    expect(c.storageRegions.map((r) => [r.name, r.primary])).toEqual([
      ['eu', false],
      ['us', true],
      ['disk', false],
    ]);
    expect(c.storageRegions[0]).toMatchObject({
      driver: 's3',
      bucket: 'media-eu',
      region: 'us-east-1',
      forcePathStyle: true,
      accessKeyId: 'key',
    });
    expect(c.storageRegions[1]).toMatchObject({ bucket: 'media', region: 'us-west-2' });
    expect(c.storageRegions[2]).toEqual({ name: 'disk', driver: 'local', primary: false, bucket: 'media', root: '/srv/media' });
  });

  it('takes the primary from STORAGE_PRIMARY_REGION, else the first region', () => {
    const regions = JSON.stringify([
      { name: 'a', driver: 'local', root: '/a' },
      { name: 'b', driver: 'local', root: '/b' },
    ]);
    expect(loadConfig({ STORAGE_REGIONS: regions }).storageRegions.find((r) => r.primary)!.name).toBe('a');
    expect(loadConfig({ STORAGE_REGIONS: regions, STORAGE_PRIMARY_REGION: 'b' }).storageRegions.find((r) => r.primary)!.name).toBe('b');
  });

  it('refuses bad region settings with one clear line each, never echoing secrets', () => {
    const msg = problems({
      STORAGE_REGIONS: JSON.stringify([
        { name: 'EU!', driver: 's3', endpoint: 'ftp://x', secretAccessKey: 'TOPSECRET' },
        { name: 'b', driver: 'gcs' },
        { name: 'c', driver: 'local', root: '/same', colour: 'red' },
        { name: 'd', driver: 'local', root: '/same' },
      ]),
    });
    expect(msg).toContain('STORAGE_REGIONS[0].name="EU!": is required');
    expect(msg).toContain('STORAGE_REGIONS[0].endpoint="ftp://x": must be an http(s) URL');
    expect(msg).toContain('STORAGE_REGIONS[0]: set both accessKeyId and secretAccessKey, or neither');
    expect(msg).toContain('STORAGE_REGIONS[1].driver="gcs": must be "local" or "s3"');
    expect(msg).toContain('STORAGE_REGIONS[2]: unknown field "colour"');
    expect(msg).not.toContain('TOPSECRET');
  });

  it('refuses duplicate names, two primaries, an unknown primary, shared local roots and bad JSON', () => {
    expect(
      problems({ STORAGE_REGIONS: '[{"name":"a","driver":"local","root":"/x"},{"name":"a","driver":"local","root":"/y"}]' }),
    ).toContain('STORAGE_REGIONS[1].name="a": is used by another region');
    expect(
      problems({
        STORAGE_REGIONS:
          '[{"name":"a","driver":"local","root":"/x","primary":true},{"name":"b","driver":"local","root":"/y","primary":true}]',
      }),
    ).toContain('only one region may be "primary": true');
    expect(problems({ STORAGE_REGIONS: '[{"name":"a","driver":"local"}]', STORAGE_PRIMARY_REGION: 'zz' })).toContain(
      'STORAGE_PRIMARY_REGION="zz": names no region in STORAGE_REGIONS (a)',
    );
    expect(problems({ STORAGE_REGIONS: '[{"name":"a","driver":"local"},{"name":"b","driver":"local"}]' })).toContain(
      'local regions "a" and "b" use the same root',
    );
    expect(problems({ STORAGE_REGIONS: '[{"name":"a", secretAccessKey: "hunter2"' })).toMatch(/STORAGE_REGIONS: is not valid JSON/);
    expect(problems({ STORAGE_REGIONS: '[{"name":"a", secretAccessKey: "hunter2"' })).not.toContain('hunter2');
    expect(problems({ STORAGE_REGIONS: '[]' })).toContain('STORAGE_REGIONS: must be a JSON array of 1 to 8 region objects');
    expect(problems({ STORAGE_PRIMARY_REGION: 'eu' })).toContain('STORAGE_PRIMARY_REGION="eu": names no region');
  });
});

describe('CDN settings', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  it('needs the distribution, key pair and an RSA private key with CDN_PROVIDER=cloudfront', () => {
    const msg = problems({ CDN_PROVIDER: 'cloudfront', CLOUDFRONT_PRIVATE_KEY: 'not a key' });
    expect(msg).toContain('CDN_BASE_URL: required with CDN_PROVIDER=cloudfront');
    expect(msg).toContain('CLOUDFRONT_DISTRIBUTION_ID: required');
    expect(msg).toContain('CLOUDFRONT_KEY_PAIR_ID: required');
    expect(msg).toContain('CLOUDFRONT_PRIVATE_KEY: is not a PEM private key');
    expect(msg).not.toContain('not a key');
  });

  it('accepts a PEM given with \\n escapes (as env files and Secrets often carry it)', () => {
    const c = loadConfig({
      CDN_PROVIDER: 'cloudfront',
      CDN_BASE_URL: 'https://d111111abcdef8.cloudfront.net',
      CLOUDFRONT_DISTRIBUTION_ID: 'EDFDVBD6EXAMPLE',
      CLOUDFRONT_KEY_PAIR_ID: 'K2JCJMDEHXQW5F',
      CLOUDFRONT_PRIVATE_KEY: pem.replace(/\n/g, '\\n'),
    });
    expect(c.cloudfrontPrivateKey).toBe(pem);
  });

  it('leaves everything optional with the default CDN_PROVIDER=none', () => {
    expect(loadConfig({}).CDN_PROVIDER).toBe('none');
  });
});
