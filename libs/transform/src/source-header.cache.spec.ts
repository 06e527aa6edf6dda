import type { SourceHeader } from './image-renderer';
import { SourceHeaderCache } from './source-header.cache';

const header = (width: number): SourceHeader => ({ width, frameHeight: 100, frames: 1, hasIcc: false, orientation: 1 });

describe('SourceHeaderCache', () => {
  it('reads a source header once per owner and SHA-256', async () => {
    const cache = new SourceHeaderCache();
    const read = jest.fn(async () => header(10));
    expect(await cache.get('o1', 'aa', read)).toEqual(header(10));
    expect(await cache.get('o1', 'aa', read)).toEqual(header(10));
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('never answers one owner from another owner’s read (no cross-owner timing oracle)', async () => {
    const cache = new SourceHeaderCache();
    await cache.get('o1', 'aa', async () => header(10));
    const read = jest.fn(async () => header(10));
    await cache.get('o2', 'aa', read);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('keeps nothing of a source that could not be read, forgets a released source and the oldest beyond its bound', async () => {
    const cache = new SourceHeaderCache(2);
    await expect(cache.get('o1', 'bad', () => Promise.reject(new Error('undecodable')))).rejects.toThrow('undecodable');
    const again = jest.fn(async () => header(1));
    await cache.get('o1', 'bad', again);
    expect(again).toHaveBeenCalledTimes(1);

    cache.delete('o1', 'bad');
    const afterRelease = jest.fn(async () => header(1));
    await cache.get('o1', 'bad', afterRelease);
    expect(afterRelease).toHaveBeenCalledTimes(1);

    await cache.get('o1', 'b', async () => header(2));
    await cache.get('o1', 'c', async () => header(3));
    const oldest = jest.fn(async () => header(1));
    await cache.get('o1', 'bad', oldest);
    expect(oldest).toHaveBeenCalledTimes(1);
  });
});
