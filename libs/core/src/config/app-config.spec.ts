import { ConfigValidationError, DEVELOPMENT_JWT_SECRET, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('gives the embedded defaults on an empty environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      STORAGE_DRIVER: 'local',
      LOCAL_STORAGE_ROOT: './data',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/media',
      REDIS_URL: 'redis://127.0.0.1:6379/0',
      UPLOAD_URL_TTL_SECONDS: 900,
      jwtSecret: DEVELOPMENT_JWT_SECRET,
      jwtSecretIsDevelopmentFallback: true,
      publicBaseUrl: 'http://localhost:3000',
    });
  });

  it('parses numbers and booleans from strings', () => {
    const c = loadConfig({ PORT: '8080', S3_FORCE_PATH_STYLE: 'true', WORKER_ENABLED: '0' });
    expect(c.PORT).toBe(8080);
    expect(c.S3_FORCE_PATH_STYLE).toBe(true);
    expect(c.WORKER_ENABLED).toBe(false);
    expect(c.publicBaseUrl).toBe('http://localhost:8080');
  });

  it('names every bad variable in one error', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', STORAGE_DRIVER: 'ftp', REDIS_URL: 'http://x', UPLOAD_URL_TTL_SECONDS: '0' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigValidationError);
    const msg = (err as Error).message;
    for (const name of ['PORT="eighty"', 'STORAGE_DRIVER="ftp"', 'REDIS_URL="http://x"', 'UPLOAD_URL_TTL_SECONDS="0"'])
      expect(msg).toContain(name);
  });

  it('validates the metrics settings and names a bad METRICS_TOKEN without printing it', () => {
    expect(loadConfig({}).METRICS_ENABLED).toBe(true);
    expect(loadConfig({ METRICS_ENABLED: 'false', BULL_BOARD_ENABLED: 'no' })).toMatchObject({
      METRICS_ENABLED: false,
      BULL_BOARD_ENABLED: false,
    });
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-scrape-token' }).METRICS_TOKEN).toBe('a-long-enough-scrape-token');
    let msg = '';
    try {
      loadConfig({ METRICS_TOKEN: 'short-tok' });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('METRICS_TOKEN=(hidden)');
    expect(msg).not.toContain('short-tok');
    expect(() => loadConfig({ METRICS_COLLECT_TIMEOUT_MS: '10' })).toThrow(/METRICS_COLLECT_TIMEOUT_MS/);
  });

  it('refuses production without a long JWT_SECRET', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(/at least 32/);
    const c = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'p'.repeat(40), METRICS_TOKEN: 'm'.repeat(20) });
    expect(c.jwtSecretIsDevelopmentFallback).toBe(false);
  });

  it('derives a storage signing secret from the JWT secret unless one is given', () => {
    const a = loadConfig({ JWT_SECRET: 'a'.repeat(40) });
    const b = loadConfig({ JWT_SECRET: 'b'.repeat(40) });
    expect(a.storageSigningSecret).not.toBe(b.storageSigningSecret);
    expect(a.storageSigningSecret).not.toContain('a'.repeat(40));
    expect(loadConfig({ STORAGE_SIGNING_SECRET: 's'.repeat(32) }).storageSigningSecret).toBe('s'.repeat(32));
  });

  it('refuses a bucket name storage would not accept', () => {
    expect(() => loadConfig({ STORAGE_BUCKET: '../etc' })).toThrow(/STORAGE_BUCKET/);
  });

  it('puts tus staging beside the buckets by default, expiring with upload URLs, and never inside a served bucket', () => {
    const c = loadConfig({ LOCAL_STORAGE_ROOT: '/srv/media', UPLOAD_URL_TTL_SECONDS: '600' });
    expect(c.tusStagingDir).toBe('/srv/media/.tus-staging');
    expect(c.tusUploadExpirySeconds).toBe(600);
    expect(loadConfig({ TUS_STAGING_DIR: '/var/tus', TUS_UPLOAD_EXPIRY_SECONDS: '86400' })).toMatchObject({
      tusStagingDir: '/var/tus',
      tusUploadExpirySeconds: 86400,
    });
    expect(() => loadConfig({ LOCAL_STORAGE_ROOT: '/srv/media', TUS_STAGING_DIR: '/srv/media/media/tus' })).toThrow(
      /TUS_STAGING_DIR.*served storage directory/,
    );
    expect(() => loadConfig({ TUS_UPLOAD_EXPIRY_SECONDS: '0' })).toThrow(/TUS_UPLOAD_EXPIRY_SECONDS/);
  });

  it("allows browser uploads from PUBLIC_BASE_URL's origin unless CORS_ALLOWED_ORIGINS names others", () => {
    expect(loadConfig({}).corsAllowedOrigins).toEqual(['http://localhost:3000']);
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://media.example.com/base/' }).corsAllowedOrigins).toEqual(['https://media.example.com']);
    const c = loadConfig({ CORS_ALLOWED_ORIGINS: ' https://app.example.com, http://127.0.0.1:8080/ ,https://app.example.com' });
    expect(c.corsAllowedOrigins).toEqual(['https://app.example.com', 'http://127.0.0.1:8080']);
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: '*' }).corsAllowedOrigins).toEqual(['*']);
    expect(loadConfig({}).S3_APPLY_CORS).toBe(false);
    expect(loadConfig({ S3_APPLY_CORS: 'true' }).S3_APPLY_CORS).toBe(true);
  });

  it("allows API callers from PUBLIC_BASE_URL's origin unless API_CORS_ORIGINS names others; the bucket rule follows it", () => {
    expect(loadConfig({}).apiCorsOrigins).toEqual(['http://localhost:3000']);
    expect(loadConfig({ PUBLIC_BASE_URL: 'https://media.example.com/base/' }).apiCorsOrigins).toEqual(['https://media.example.com']);
    const c = loadConfig({ API_CORS_ORIGINS: 'https://app.example.com/, http://127.0.0.1:5173' });
    expect(c.apiCorsOrigins).toEqual(['https://app.example.com', 'http://127.0.0.1:5173']);
    // CORS_ALLOWED_ORIGINS (the S3 bucket rule) defaults to API_CORS_ORIGINS, and may say otherwise.
    expect(c.corsAllowedOrigins).toEqual(['https://app.example.com', 'http://127.0.0.1:5173']);
    const both = loadConfig({ API_CORS_ORIGINS: 'https://app.example.com', CORS_ALLOWED_ORIGINS: '*' });
    expect([both.apiCorsOrigins, both.corsAllowedOrigins]).toEqual([['https://app.example.com'], ['*']]);
    // The API's origins do not follow CORS_ALLOWED_ORIGINS.
    expect(loadConfig({ CORS_ALLOWED_ORIGINS: 'https://app.example.com' }).apiCorsOrigins).toEqual(['http://localhost:3000']);
    expect(loadConfig({ API_CORS_ORIGINS: '*' }).apiCorsOrigins).toEqual(['*']);
  });

  it('refuses API_CORS_ORIGINS entries that are not origins, and `*` among others', () => {
    expect(() => loadConfig({ API_CORS_ORIGINS: 'https://app.example.com/upload' })).toThrow(
      /API_CORS_ORIGINS: "https:\/\/app.example.com\/upload" is not an origin/,
    );
    expect(() => loadConfig({ API_CORS_ORIGINS: 'app.example.com' })).toThrow(/API_CORS_ORIGINS/);
    expect(() => loadConfig({ API_CORS_ORIGINS: ' , ' })).toThrow(/API_CORS_ORIGINS: names no origin/);
    expect(() => loadConfig({ API_CORS_ORIGINS: '*, https://app.example.com' })).toThrow(
      /API_CORS_ORIGINS: `\*` \(any origin\) cannot be combined/,
    );
  });

  it('refuses CORS_ALLOWED_ORIGINS entries that are not origins', () => {
    expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: 'https://app.example.com/upload' })).toThrow(
      /CORS_ALLOWED_ORIGINS: "https:\/\/app.example.com\/upload" is not an origin/,
    );
    expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: 'app.example.com' })).toThrow(/CORS_ALLOWED_ORIGINS/);
    expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: 'ftp://files.example.com' })).toThrow(/CORS_ALLOWED_ORIGINS/);
    expect(() => loadConfig({ CORS_ALLOWED_ORIGINS: ' , ' })).toThrow(/CORS_ALLOWED_ORIGINS: names no origin/);
    expect(() => loadConfig({ S3_APPLY_CORS: 'maybe' })).toThrow(/S3_APPLY_CORS/);
  });
});
