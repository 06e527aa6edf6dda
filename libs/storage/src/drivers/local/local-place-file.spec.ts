import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalStorageDriver } from '../local-storage.driver';

describe('LocalStorageDriver.placeFile (regenerable objects)', () => {
  let root: string;
  let driver: LocalStorageDriver;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'local-place-'));
    driver = new LocalStorageDriver({ root, bucket: 'media', baseUrl: 'http://127.0.0.1:1', signingSecret: 's'.repeat(32) });
    await driver.init();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('renames the file into place (directories made as needed) and records its size and SHA-256', async () => {
    const bytes = Buffer.from('a rendition, rendered');
    const file = driver.scratchPath();
    writeFileSync(file, bytes);
    const placed = await driver.placeFile({ key: 'renditions/ab/abcdef', file, contentType: 'image/webp' });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(placed).toEqual({ size: bytes.length, sha256 });
    expect(existsSync(file)).toBe(false);
    expect(readFileSync(driver.objectPath('renditions/ab/abcdef'))).toEqual(bytes);
    expect(await driver.head('renditions/ab/abcdef')).toMatchObject({ size: bytes.length, contentType: 'image/webp', etag: `"${sha256}"` });
  });

  it('reads a regenerable object whose file a crash left short as absent, never serving it torn', async () => {
    const file = driver.scratchPath();
    writeFileSync(file, Buffer.alloc(4096, 7));
    await driver.placeFile({ key: 'renditions/cd/torn', file, contentType: 'image/png' });
    truncateSync(driver.objectPath('renditions/cd/torn'), 0);
    expect(await driver.head('renditions/cd/torn')).toBeNull();
  });

  it('takes the file even when it cannot be placed (an invalid key)', async () => {
    const file = driver.scratchPath();
    writeFileSync(file, 'x');
    await expect(driver.placeFile({ key: '../escape', file, contentType: 'image/png' })).rejects.toThrow();
    expect(existsSync(file)).toBe(false);
  });
});
