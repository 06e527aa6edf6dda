import { LocalAssetCache } from './local-asset-cache';

describe('LocalAssetCache', () => {
  it('answers what was stored until its TTL passes', () => {
    const c = new LocalAssetCache(1000, 10);
    expect(c.set('a', 'record', '{"x":1}', c.seq, 0)).toBe(true);
    expect(c.get('a', 'record', 999)).toBe('{"x":1}');
    expect(c.get('a', 'acl', 999)).toBeUndefined();
    expect(c.get('a', 'record', 1000)).toBeUndefined();
  });

  it('refuses to store what a reader read before any deletion (it may be older than the change)', () => {
    const c = new LocalAssetCache(1000, 10);
    const seq = c.seq;
    c.delete('other');
    expect(c.set('a', 'record', 'old', seq, 0)).toBe(false);
    expect(c.get('a', 'record', 0)).toBeUndefined();
    c.set('a', 'record', 'new', c.seq, 0);
    c.clear();
    expect(c.get('a', 'record', 0)).toBeUndefined();
  });

  it('drops the least recently used asset beyond its size', () => {
    const c = new LocalAssetCache(1000, 2);
    c.set('a', 'record', 'A', c.seq, 0);
    c.set('b', 'record', 'B', c.seq, 0);
    expect(c.get('a', 'record', 0)).toBe('A'); // a is now the most recently used
    c.set('c', 'record', 'C', c.seq, 0);
    expect(c.size).toBe(2);
    expect(c.get('b', 'record', 0)).toBeUndefined();
    expect(c.get('a', 'record', 0)).toBe('A');
    expect(c.get('c', 'record', 0)).toBe('C');
  });

  it('keeps an entry for a shorter time when asked (never longer than its own TTL)', () => {
    const c = new LocalAssetCache(1000, 10);
    c.set('a', 'record', 'null', c.seq, 0, 300);
    expect(c.get('a', 'record', 299)).toBe('null');
    expect(c.get('a', 'record', 300)).toBeUndefined();
    c.set('b', 'record', 'B', c.seq, 0, 5000);
    expect(c.get('b', 'record', 1000)).toBeUndefined();
  });
});
