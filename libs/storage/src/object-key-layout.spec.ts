import { ObjectKeyLayout } from './object-key-layout';

describe('ObjectKeyLayout', () => {
  it('builds upload keys from ids only', () => {
    expect(ObjectKeyLayout.upload('42', '0b6f3c1e-1f0a-4c7e-9a47-6e1f1f6f0d2a')).toBe('uploads/42/0b6f3c1e-1f0a-4c7e-9a47-6e1f1f6f0d2a');
    expect(() => ObjectKeyLayout.upload('../x', '0b6f3c1e-1f0a-4c7e-9a47-6e1f1f6f0d2a')).toThrow();
  });
  it('builds opaque, deterministic keys for stored objects', () => {
    const asset = '0b6f3c1e-1f0a-4c7e-9a47-6e1f1f6f0d2a';
    const key = ObjectKeyLayout.stored(asset, 's'.repeat(32));
    expect(key).toMatch(/^objects\/[0-9a-f]{2}\/[0-9a-f]{64}$/);
    expect(key).toBe(ObjectKeyLayout.stored(asset, 's'.repeat(32)));
    expect(key).not.toContain(asset);
    expect(ObjectKeyLayout.stored(asset, 't'.repeat(32))).not.toBe(key);
    expect(ObjectKeyLayout.stored('1b6f3c1e-1f0a-4c7e-9a47-6e1f1f6f0d2a', 's'.repeat(32))).not.toBe(key);
    expect(ObjectKeyLayout.quarantine(asset)).toBe(`quarantine/${asset}`);
    expect(ObjectKeyLayout.derived(asset, 'thumbnail')).toBe(`derived/${asset}/thumbnail.webp`);
    expect(ObjectKeyLayout.isSafe(key)).toBe(true);
  });
  it('reads the owner and asset back from an upload key, and nothing from other keys', () => {
    const id = '0b5c6d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e';
    expect(ObjectKeyLayout.parseUpload(ObjectKeyLayout.upload('42', id))).toEqual({ ownerId: '42', assetId: id });
    for (const k of [
      ObjectKeyLayout.stored(id, 's'),
      ObjectKeyLayout.derived(id, 'thumb'),
      `uploads/42/${id}/x`,
      `uploads/x/${id}`,
      'uploads/42/',
    ])
      expect(ObjectKeyLayout.parseUpload(k)).toBeNull();
  });

  it('refuses traversal and odd characters', () => {
    for (const k of ['../etc/passwd', 'a/../b', 'a//b', '/abs', 'a/./b', 'a\\b', 'a b', '']) expect(ObjectKeyLayout.isSafe(k)).toBe(false);
    expect(ObjectKeyLayout.isSafe('uploads/1/abc.def-x_y')).toBe(true);
  });
});
