import { assertScope, Authenticator, scopeForMethod } from './authenticator';
import { JwtService } from './jwt.service';
import { Principal } from './principal';

const SECRET = 'unit-test-secret-0123456789-abcdefghijkl';
const KEY = `msk_${'k'.repeat(54)}`;

describe('Authenticator', () => {
  const jwt = new JwtService({ jwtSecret: SECRET });
  const keyPrincipal: Principal = { userId: '9', groups: [], roles: [], isAdmin: false, apiKey: { id: 'k1', scopes: ['read'] } };
  const withKeys = () => {
    const auth = new Authenticator(jwt);
    const seen: string[] = [];
    auth.useApiKeys({ verify: async (key) => (seen.push(key), keyPrincipal) });
    return { auth, seen };
  };

  it('takes a JWT as a bearer value, and a bearer value or X-Api-Key starting with msk_ as an API key', async () => {
    const { auth, seen } = withKeys();
    expect(await auth.authenticate({ authorization: `Bearer ${jwt.sign({ sub: 7 })}` })).toMatchObject({ userId: '7' });
    expect(await auth.authenticate({ authorization: `Bearer ${KEY}` })).toBe(keyPrincipal);
    expect(await auth.authenticate({ 'x-api-key': ` ${KEY} ` })).toBe(keyPrincipal);
    expect(seen).toEqual([KEY, KEY]);
    expect(await auth.authenticate({})).toBeNull();
    // One value sent to both schemes (what clients generated from the document do) is one credential.
    const token = jwt.sign({ sub: 8 });
    expect(await auth.authenticate({ authorization: `Bearer ${token}`, 'x-api-key': token })).toMatchObject({ userId: '8' });
    expect(await auth.authenticate({ authorization: `Bearer ${KEY}`, 'x-api-key': KEY })).toBe(keyPrincipal);
    expect(seen).toEqual([KEY, KEY, KEY]);
    await expect(auth.require({})).rejects.toThrow(/X-Api-Key/);
  });

  it('refuses both headers at once, a key header without a key, and keys when no verifier is registered', async () => {
    const { auth, seen } = withKeys();
    await expect(auth.authenticate({ authorization: `Bearer ${KEY}`, 'x-api-key': `${KEY}x` })).rejects.toMatchObject({ statusCode: 401 });
    await expect(auth.authenticate({ authorization: `Bearer ${jwt.sign({ sub: 7 })}`, 'x-api-key': KEY })).rejects.toMatchObject({
      statusCode: 401,
    });
    await expect(auth.authenticate({ 'x-api-key': '' })).rejects.toMatchObject({ statusCode: 401 });
    await expect(auth.authenticate({ 'x-api-key': [KEY, KEY] })).rejects.toMatchObject({ statusCode: 401 });
    await expect(auth.authenticate({ 'x-api-key': 'sk_live_x' })).rejects.toThrow(/start with "msk_"/);
    await expect(auth.authenticate({ authorization: 'Basic abc' })).rejects.toMatchObject({ statusCode: 401 });
    expect(seen).toEqual([]);
    await expect(new Authenticator(jwt).authenticate({ 'x-api-key': KEY })).rejects.toThrow(/does not accept API keys/);
  });

  it('limits keys to their scopes by method, never JWT callers', () => {
    expect(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'].map(scopeForMethod)).toEqual([
      'read',
      'read',
      'read',
      'write',
      'write',
      'write',
      'write',
    ]);
    expect(() => assertScope(keyPrincipal, 'read')).not.toThrow();
    let refusal: unknown;
    try {
      assertScope(keyPrincipal, 'write');
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toMatchObject({ statusCode: 403, code: 'InsufficientScope', details: { requiredScope: 'write' } });
    expect(() => assertScope({ ...keyPrincipal, apiKey: undefined }, 'admin')).not.toThrow();
  });
});
