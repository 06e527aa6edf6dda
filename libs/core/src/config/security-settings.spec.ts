import { loadConfig, parseTrustedProxies } from './app-config';

const PROD = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(40) };

describe('metrics exposure in production', () => {
  it('refuses to start with metrics enabled and neither METRICS_TOKEN nor METRICS_PORT, naming them', () => {
    expect(() => loadConfig(PROD)).toThrow(/METRICS_TOKEN: must be set when NODE_ENV=production.*METRICS_PORT/);
    expect(loadConfig({ ...PROD, METRICS_TOKEN: 'm'.repeat(16) }).METRICS_TOKEN).toBe('m'.repeat(16));
    expect(loadConfig({ ...PROD, METRICS_PORT: '9464' })).toMatchObject({ METRICS_PORT: 9464, METRICS_HOST: '127.0.0.1' });
    expect(loadConfig({ ...PROD, METRICS_ENABLED: 'false' }).METRICS_ENABLED).toBe(false);
    expect(loadConfig({}).METRICS_TOKEN).toBeUndefined(); // outside production: open, as before
  });

  it('wants METRICS_PORT to be a port other than PORT', () => {
    expect(() => loadConfig({ METRICS_PORT: '3000' })).toThrow(/METRICS_PORT=3000: must differ from PORT/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  });
});

describe('TRUSTED_PROXIES', () => {
  it('takes IPs and CIDRs, and nothing else', () => {
    expect(parseTrustedProxies(undefined)).toEqual({ proxies: [], problems: [] });
    expect(parseTrustedProxies(' 10.0.0.0/8, 127.0.0.1 ,fd00::/8,::1').proxies).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::1']);
    for (const bad of ['proxy.local', '10.0.0.0/33', '10.0.0.0/8/1', 'fd00::/129', '1.2.3']) {
      expect(parseTrustedProxies(bad).problems).toHaveLength(1);
    }
    expect(() => loadConfig({ TRUSTED_PROXIES: '127.0.0.1,loadbalancer' })).toThrow(
      /TRUSTED_PROXIES: "loadbalancer" is not an IP address or CIDR/,
    );
    expect(loadConfig({ TRUSTED_PROXIES: '127.0.0.1' }).TRUSTED_PROXIES).toBe('127.0.0.1');
  });
});

describe('token settings', () => {
  it('default to a 24 h lifetime and no issuer or audience check', () => {
    expect(loadConfig({})).toMatchObject({ JWT_MAX_LIFETIME_SECONDS: 86400, JWT_ISSUER: undefined, JWT_AUDIENCE: undefined });
    expect(loadConfig({ JWT_MAX_LIFETIME_SECONDS: '600', JWT_ISSUER: 'https://id.example', JWT_AUDIENCE: 'media' })).toMatchObject({
      JWT_MAX_LIFETIME_SECONDS: 600,
      JWT_ISSUER: 'https://id.example',
      JWT_AUDIENCE: 'media',
    });
    expect(() => loadConfig({ JWT_MAX_LIFETIME_SECONDS: '10' })).toThrow(/JWT_MAX_LIFETIME_SECONDS/);
  });
});
