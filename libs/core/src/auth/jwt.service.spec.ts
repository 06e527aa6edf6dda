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
    const token = jwt.sign({ sub: '7', nbf: Math.floor(now / 1000) + 30 }, SECRET, { algorithm: 'HS256' });
    expect(() => s.verify(token)).toThrow(/not active/);
    jest.spyOn(Date, 'now').mockReturnValue(now + 31_000);
    expect(s.verify(token).userId).toBe('7');
  });
});
