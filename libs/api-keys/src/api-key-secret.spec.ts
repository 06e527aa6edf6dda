import { generateApiKey, hashApiKey, isWellFormedApiKey } from './api-key-secret';

describe('API key secrets', () => {
  it('are msk_ + 320 random bits in base64url, recognisable, and hashed with SHA-256', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.key).toMatch(/^msk_[A-Za-z0-9_-]{54}$/);
    expect(Buffer.from(a.key.slice(4), 'base64url')).toHaveLength(40);
    expect(a.key).not.toBe(b.key);
    expect(a.hash).toBe(hashApiKey(a.key));
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(a.key.slice(0, 12));
    expect(isWellFormedApiKey(a.key)).toBe(true);
    expect(isWellFormedApiKey(`${a.key}x`)).toBe(false);
    expect(isWellFormedApiKey(a.key.replace('msk_', 'msx_'))).toBe(false);
    expect(isWellFormedApiKey('msk_short')).toBe(false);
  });
});
