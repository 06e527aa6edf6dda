import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalStorageDriver } from './local-storage.driver';

describe('LocalStorageDriver file adoption (FileAdoptingStorage)', () => {
  let root: string;
  let driver: LocalStorageDriver;

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'local-adopt-'));
    driver = new LocalStorageDriver({ root, bucket: 'media', baseUrl: 'http://127.0.0.1:1', signingSecret: 's'.repeat(32) });
    await driver.init();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('puts a file written at the adoption path in place, hashed, with its sidecar; nothing stays behind', async () => {
    const file = await driver.adoptionPath();
    const bytes = Buffer.alloc(600 * 1024, 7); // more than one read
    writeFileSync(file, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(await driver.adoptFile({ key: 'renditions/ab/k1', file, contentType: 'image/webp', contentLength: bytes.length })).toEqual({
      size: bytes.length,
      sha256,
    });
    expect(existsSync(file)).toBe(false);
    expect(await driver.head('renditions/ab/k1')).toMatchObject({ size: bytes.length, contentType: 'image/webp', etag: `"${sha256}"` });
    const body: Buffer[] = [];
    for await (const chunk of await driver.read('renditions/ab/k1')) body.push(chunk as Buffer);
    expect(Buffer.concat(body).equals(bytes)).toBe(true);
  });

  it('refuses (and removes) a file whose size is not the one its writer reported: a short object is never stored', async () => {
    const file = await driver.adoptionPath();
    writeFileSync(file, 'short');
    await expect(driver.adoptFile({ key: 'renditions/ab/k2', file, contentType: 'image/webp', contentLength: 99 })).rejects.toThrow(
      /expected 99 bytes/,
    );
    expect(existsSync(file)).toBe(false);
    expect(await driver.head('renditions/ab/k2')).toBeNull();
  });

  it('removes colder copies of the key it puts in place, unless the caller says it has none', async () => {
    const coldFile = (key: string) => path.join(root, '.tiers', 'STANDARD_IA', 'media', key);
    const adopt = async (key: string, noColdCopies?: boolean) => {
      const file = await driver.adoptionPath();
      writeFileSync(file, `new ${key}`);
      await driver.adoptFile({ key, file, contentType: 'image/webp', noColdCopies });
    };
    for (const key of ['renditions/cd/tiered', 'renditions/cd/never']) {
      await adopt(key);
      await driver.setStorageClass({ key, storageClass: 'STANDARD_IA' });
      expect(existsSync(coldFile(key))).toBe(true);
    }
    await adopt('renditions/cd/tiered');
    expect(existsSync(coldFile('renditions/cd/tiered'))).toBe(false);
    // noColdCopies: no colder copy is looked for (the unlinks are skipped), so one that exists against the promise stays.
    await adopt('renditions/cd/never', true);
    expect(existsSync(coldFile('renditions/cd/never'))).toBe(true);
    expect(await driver.head('renditions/cd/never')).toMatchObject({ size: 'new renditions/cd/never'.length });
  });

  it('adopts only files under its own temporary directory, and leaves any other file alone', async () => {
    const outside = path.join(root, 'elsewhere');
    writeFileSync(outside, 'x');
    await expect(driver.adoptFile({ key: 'renditions/ab/k3', file: outside, contentType: 'image/webp' })).rejects.toThrow(/can be adopted/);
    expect(await driver.head('renditions/ab/k3')).toBeNull();
    expect(existsSync(outside)).toBe(true);
    expect(readdirSync(path.join(root, 'media'), { recursive: true }).some((f) => String(f).endsWith('k3'))).toBe(false);
  });
});

describe('LocalStorageDriver start-up: what a dead process left in .tmp', () => {
  it('removes .tmp files unwritten for an hour and keeps recent ones', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'local-sweep-'));
    try {
      const options = { root, bucket: 'media', baseUrl: 'http://127.0.0.1:1', signingSecret: 's'.repeat(32) };
      const first = new LocalStorageDriver(options);
      await first.init();
      const abandoned = await first.adoptionPath();
      const live = await first.adoptionPath();
      writeFileSync(abandoned, 'left by a render that died');
      writeFileSync(live, 'being written');
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      utimesSync(abandoned, twoHoursAgo, twoHoursAgo);
      await new LocalStorageDriver(options).init(); // the next process to start
      expect(existsSync(abandoned)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
