/**
 * Bearer tokens a hostile client could forge or keep: without `exp`, living longer than JWT_MAX_LIFETIME_SECONDS,
 * issued in the future, from another issuer or for another audience, or with an array for `sub`. Each is a 401
 * naming the claim, on the first use and on later ones (the service remembers tokens it verified). Production mode,
 * with JWT_ISSUER and JWT_AUDIENCE set.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { JWT_SECRET, RunningApp, startApp } from './support/app-process';

const ISSUER = 'https://id.example.test';
const AUDIENCE = 'media-api';
const MAX_LIFETIME = 3600;

/** A token with exactly these claims, signed with the service's secret. */
const sign = (claims: Record<string, unknown>) => jwt.sign(claims, JWT_SECRET, { algorithm: 'HS256', noTimestamp: !('iat' in claims) });

describe('bearer token claims', () => {
  let app: RunningApp;
  const now = () => Math.floor(Date.now() / 1000);
  const good = () => ({ sub: '31', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600 });
  const get = (t: string) => fetch(`${app.baseUrl}/media`, { headers: { authorization: `Bearer ${t}` } });

  beforeAll(async () => {
    app = await startApp({
      NODE_ENV: 'production',
      METRICS_TOKEN: 'tokens-metrics-token-0123456789',
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_MAX_LIFETIME_SECONDS: String(MAX_LIFETIME),
    });
  });
  afterAll(() => app?.stop());

  it('accepts a token that follows every rule (aud as a string or in an array, sub as a string or an integer)', async () => {
    expect((await get(sign(good()))).status).toBe(200);
    expect((await get(sign({ ...good(), aud: ['other', AUDIENCE] }))).status).toBe(200);
    expect((await get(sign({ ...good(), sub: 31 }))).status).toBe(200);
    const { iat: _iat, ...withoutIat } = good();
    expect((await get(sign(withoutIat))).status).toBe(200);
    expect((await get(sign({ ...good(), iat: now() - 60, exp: now() - 60 + MAX_LIFETIME }))).status).toBe(200);
  });

  const refusals: [string, () => Record<string, unknown>, RegExp][] = [
    ['without exp', () => ({ ...good(), exp: undefined }), /claim "exp" is required/],
    ['living longer than JWT_MAX_LIFETIME_SECONDS', () => ({ ...good(), exp: now() + MAX_LIFETIME + 60 }), /claim "exp" is too far ahead/],
    ['far ahead without iat', () => ({ ...good(), iat: undefined, exp: now() + MAX_LIFETIME + 60 }), /claim "exp" is too far ahead/],
    ['issued in the future', () => ({ ...good(), iat: now() + 120 }), /claim "iat" is in the future/],
    ['from another issuer', () => ({ ...good(), iss: 'https://evil.example.test' }), /claim "iss" must be/],
    ['without an issuer', () => ({ ...good(), iss: undefined }), /claim "iss" must be/],
    ['for another audience', () => ({ ...good(), aud: 'other-api' }), /claim "aud" must include/],
    ['without an audience', () => ({ ...good(), aud: undefined }), /claim "aud" must include/],
    ['with an array for sub', () => ({ ...good(), sub: ['31'] }), /claim "sub" must be a string or a number/],
  ];

  it.each(refusals)('refuses a token %s with a 401 naming the claim, every time', async (_name, claims, message) => {
    const c = Object.fromEntries(Object.entries(claims()).filter(([, v]) => v !== undefined));
    const t = sign(c);
    for (let i = 0; i < 2; i++) {
      const r = await get(t);
      expect(r.status).toBe(401);
      const body = (await r.json()) as any;
      expect(body).toMatchObject({ statusCode: 401, error: 'Unauthenticated' });
      expect(body.message).toMatch(message);
    }
  });

  it('npm run token signs a token the service accepts (iss, aud, exp within the limit) and refuses a longer --ttl', async () => {
    const env = {
      PATH: process.env.PATH ?? '',
      JWT_SECRET,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_MAX_LIFETIME_SECONDS: String(MAX_LIFETIME),
    };
    const cli = path.resolve(__dirname, '../dist/apps/api/src/cli/token.js');
    const r = spawnSync(process.execPath, [cli, '--sub', '31'], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const claims = jwt.decode(r.stdout.trim()) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: '31', iss: ISSUER, aud: AUDIENCE });
    expect(claims.exp! - claims.iat!).toBe(MAX_LIFETIME);
    expect((await get(r.stdout.trim())).status).toBe(200);
    const tooLong = spawnSync(process.execPath, [cli, '--sub', '31', '--ttl', String(MAX_LIFETIME + 1)], { env, encoding: 'utf8' });
    expect(tooLong.status).toBe(2);
    expect(tooLong.stderr).toContain('JWT_MAX_LIFETIME_SECONDS');
  });
});
