import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { JwtService } from './jwt.service';

const SECRET = 'unit-test-secret-0123456789-abcdefghijkl';

describe('JwtService', () => {
  const service = () => new JwtService({ jwtSecret: SECRET });
  afterEach(() => jest.restoreAllMocks());

  it('answers a token it verified before from memory, but refuses it once it has expired', () => {
    const s = service();
    const now = Date.now();
    const token = jwt.sign({ sub: '7', groups: ['crew'], exp: Math.floor(now / 1000) + 60 }, SECRET, { algorithm: 'HS256' });
    expect(s.verify(token)).toEqual({ userId: '7', groups: ['crew'], roles: [], isAdmin: false });
    const again = s.verify(token);
    again.groups.push('mutated'); // a caller changing its copy changes nothing for the next request
    expect(s.verify(token).groups).toEqual(['crew']);
    jest.spyOn(Date, 'now').mockReturnValue(now + 66_000); // past exp + the 5 s clock tolerance
    expect(() => s.verify(token)).toThrow(/token has expired/);
  });

  it('never takes a tampered token for the one it remembers', () => {
    const s = service();
    const token = jwt.sign({ sub: '7' }, SECRET, { algorithm: 'HS256', expiresIn: 60 });
    s.verify(token);
    const [h, p] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: '1', roles: ['admin'] })).toString('base64url')}.${token.split('.')[2]}`;
    expect(() => s.verify(forged)).toThrow(/Invalid bearer token/);
    expect(() => s.verify(`${h}.${p}.AAAA`)).toThrow(/Invalid bearer token/);
  });

  it('honours nbf on every call', () => {
    const s = service();
    const now = Date.now();
    const token = jwt.sign({ sub: '7', nbf: Math.floor(now / 1000) + 30 }, SECRET, { algorithm: 'HS256', expiresIn: 3600 });
    expect(() => s.verify(token)).toThrow(/not active/);
    jest.spyOn(Date, 'now').mockReturnValue(now + 31_000);
    expect(s.verify(token).userId).toBe('7');
  });

  /** A token with exactly these claims (jsonwebtoken's sign would add or validate some). */
  const at = (claims: object) => {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
    return `${unsigned}.${createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
  };

  it('requires exp, and caps the lifetime (exp - iat, or exp - now without iat)', () => {
    const s = service();
    const now = Math.floor(Date.now() / 1000);
    expect(() => s.verify(at({ sub: '7' }))).toThrow(/claim "exp" is required/);
    expect(() => s.verify(at({ sub: '7', iat: now, exp: now + 24 * 3600 + 1 }))).toThrow(/claim "exp" is too far ahead/);
    expect(() => s.verify(at({ sub: '7', exp: now + 25 * 3600 }))).toThrow(/claim "exp" is too far ahead/);
    expect(s.verify(at({ sub: '7', iat: now, exp: now + 24 * 3600 })).userId).toBe('7');
    expect(s.verify(at({ sub: '7', exp: now + 3600 })).userId).toBe('7');
    const short = new JwtService({ jwtSecret: SECRET, JWT_MAX_LIFETIME_SECONDS: 600 });
    expect(() => short.verify(at({ sub: '7', iat: now, exp: now + 601 }))).toThrow(/600 s allowed/);
    expect(() => short.sign({ sub: 7 }, 601)).toThrow(RangeError);
    expect(short.verify(short.sign({ sub: 7 }, 600)).userId).toBe('7');
  });

  it('refuses an iat in the future beyond the clock tolerance, also once that token has been seen', () => {
    const s = service();
    const now = Math.floor(Date.now() / 1000);
    const early = at({ sub: '7', iat: now + 60, exp: now + 3600 });
    expect(() => s.verify(early)).toThrow(/claim "iat" is in the future/);
    expect(() => s.verify(early)).toThrow(/claim "iat" is in the future/); // a refusal is never remembered as verified
    expect(() => s.verify(at({ sub: '7', iat: 'yesterday', exp: now + 3600 }))).toThrow(/claim "iat" must be a number/);
    expect(s.verify(at({ sub: '7', iat: now + 3, exp: now + 3600 })).userId).toBe('7'); // within the 5 s skew
  });

  it('checks iss and aud when configured, and signs them', () => {
    const s = new JwtService({ jwtSecret: SECRET, JWT_ISSUER: 'https://id.example', JWT_AUDIENCE: 'media' });
    const exp = Math.floor(Date.now() / 1000) + 600;
    expect(() => s.verify(at({ sub: '7', exp, aud: 'media' }))).toThrow(/claim "iss" must be "https:\/\/id.example"/);
    expect(() => s.verify(at({ sub: '7', exp, iss: 'https://evil.example', aud: 'media' }))).toThrow(/claim "iss"/);
    expect(() => s.verify(at({ sub: '7', exp, iss: 'https://id.example' }))).toThrow(/claim "aud" must include "media"/);
    expect(() => s.verify(at({ sub: '7', exp, iss: 'https://id.example', aud: ['other'] }))).toThrow(/claim "aud"/);
    expect(s.verify(at({ sub: '7', exp, iss: 'https://id.example', aud: ['other', 'media'] })).userId).toBe('7');
    expect(jwt.decode(s.sign({ sub: 7 }))).toMatchObject({ iss: 'https://id.example', aud: 'media', sub: '7' });
    expect(s.verify(s.sign({ sub: 7 })).userId).toBe('7');
    // Unconfigured: not checked.
    expect(service().verify(at({ sub: '7', exp, iss: 'anyone', aud: 'anything' })).userId).toBe('7');
  });

  it('takes sub as a string or a safe integer only', () => {
    const s = service();
    const exp = Math.floor(Date.now() / 1000) + 600;
    expect(s.verify(at({ sub: 42, exp })).userId).toBe('42');
    expect(() => s.verify(at({ sub: ['1'], exp }))).toThrow(/claim "sub" must be a string or a number/);
    expect(() => s.verify(at({ sub: { id: 1 }, exp }))).toThrow(/claim "sub" must be a string or a number/);
    expect(() => s.verify(at({ sub: 2 ** 53 + 2, exp }))).toThrow(/claim "sub"/);
    expect(() => s.verify(at({ sub: '0', exp }))).toThrow(/positive integer user id/);
    expect(() => s.verify(at({ exp }))).toThrow(/positive integer user id/);
  });
});
