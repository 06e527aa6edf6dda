import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { LocalStorageDriver } from '../drivers/local-storage.driver';
import {
  canGiveLocalFile,
  keepsUsedUploadMarkers,
  MultipartCapableStorage,
  StorageDriver,
  StorageNotFoundError,
  StorageUnavailableError,
} from '../storage-driver';
import { RegionRouter, StorageRegion } from './region-router';
import { RoutedStorageDriver } from './routed-storage.driver';

/** A real local driver that can be switched off, failing like an unreachable store. */
function switchable(driver: LocalStorageDriver): StorageDriver & MultipartCapableStorage & { down: boolean } {
  const fail = () => Promise.reject(new StorageUnavailableError(`${driver.root} is unreachable`));
  const s = {
    down: false,
    kind: driver.kind,
    bucket: driver.bucket,
    head: (k: string) => (s.down ? fail() : driver.head(k)),
    read: (k: string, r?: { start: number; end: number }) => (s.down ? fail() : driver.read(k, r)),
    write: (p: Parameters<StorageDriver['write']>[0]) => (s.down ? fail() : driver.write(p)),
    delete: (k: string) => (s.down ? fail() : driver.delete(k)),
    presignPut: (p: Parameters<StorageDriver['presignPut']>[0]) => driver.presignPut(p),
    presignPost: (p: Parameters<StorageDriver['presignPost']>[0]) => driver.presignPost(p),
    presignGet: (p: Parameters<StorageDriver['presignGet']>[0]) => driver.presignGet(p),
    checkHealth: () => (s.down ? fail() : driver.checkHealth()),
    // Multipart calls stay on (a region whose health check fails may still answer them); routing is what is tested.
    createMultipartUpload: driver.createMultipartUpload.bind(driver),
    presignUploadPart: driver.presignUploadPart.bind(driver),
    uploadPart: driver.uploadPart.bind(driver),
    listParts: driver.listParts.bind(driver),
    completeMultipartUpload: driver.completeMultipartUpload.bind(driver),
    abortMultipartUpload: driver.abortMultipartUpload.bind(driver),
    listMultipartUploads: driver.listMultipartUploads.bind(driver),
  };
  return s;
}

/** A local driver for region `name` under `dir`, initialised. */
async function localRegionDriver(dir: string, name: string): Promise<LocalStorageDriver> {
  const d = new LocalStorageDriver({
    root: join(dir, name),
    bucket: 'media',
    baseUrl: 'http://localhost',
    signingSecret: 's'.repeat(32),
    urlPrefix: `/storage/r/${name}`,
  });
  await d.init();
  return d;
}

describe('RoutedStorageDriver over two regions', () => {
  let dir: string;
  let a: ReturnType<typeof switchable>;
  let b: ReturnType<typeof switchable>;
  let router: RegionRouter;
  let routed: RoutedStorageDriver;

  const put = (d: StorageDriver, key: string, body: string) =>
    d.write({ key, body: Readable.from([Buffer.from(body)]), contentType: 'text/plain', contentLength: Buffer.byteLength(body) });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'routed-'));
    const make = async (name: string) => {
      const d = await localRegionDriver(dir, name);
      return switchable(d);
    };
    a = await make('a');
    b = await make('b');
    const regions: StorageRegion[] = [
      { name: 'a', primary: true, driver: a },
      { name: 'b', primary: false, driver: b },
    ];
    router = new RegionRouter(regions, { healthCheckIntervalMs: 60000, healthCheckTimeoutMs: 1000, failureThreshold: 2 });
    routed = new RoutedStorageDriver(router, 'media', 1000);
    await router.checkAll();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes to the primary while it is up, and to the next region when it is down', async () => {
    expect(router.writeRegion().name).toBe('a');
    await routed.write({ key: 'k1', body: Readable.from([Buffer.from('one')]), contentType: 'text/plain', contentLength: 3 });
    expect(await a.head('k1')).not.toBeNull();
    a.down = true;
    await router.checkAll();
    expect(router.status().map((s) => [s.name, s.state])).toEqual([
      ['a', 'down'],
      ['b', 'up'],
    ]);
    expect(router.writeRegion().name).toBe('b');
    expect((await routed.presignPut({ key: 'k2', contentType: 'text/plain', contentLength: 1, expiresInSeconds: 60 })).url).toContain(
      '/storage/r/b/',
    );
  });

  it('reads from the first usable region holding the object, failing over on outages and missing copies', async () => {
    await put(b, 'only-in-b', 'from b');
    expect(await text(await routed.read('only-in-b'))).toBe('from b');
    expect((await routed.head('only-in-b'))?.size).toBe(6);
    expect(await routed.presignGet({ key: 'only-in-b', expiresInSeconds: 60 })).toContain('/storage/r/b/');

    await put(a, 'both', 'from a');
    await put(b, 'both', 'from b');
    expect(await text(await routed.read('both'))).toBe('from a');
    a.down = true; // not noticed by a health check yet: the live error moves the read on
    expect(await text(await routed.read('both'))).toBe('from b');
    expect(await routed.presignGet({ key: 'both', expiresInSeconds: 60 })).toContain('/storage/r/b/');
  });

  it('opens the circuit after repeated live errors and closes it on a passing health check', async () => {
    await put(b, 'x', 'x');
    a.down = true;
    await routed.head('x');
    expect(router.state('a')).toBe('up');
    await routed.head('x');
    expect(router.state('a')).toBe('down');
    expect(router.status()[0]).toMatchObject({
      circuit: 'open',
      consecutiveFailures: 2,
      lastError: expect.stringContaining('unreachable') as string,
    });
    a.down = false;
    await router.checkAll();
    expect(router.status()[0]).toMatchObject({
      state: 'up',
      circuit: 'closed',
      consecutiveFailures: 0,
      latencyMs: expect.any(Number) as number,
    });
  });

  it('says "not found" only when every region answered; an unreachable region makes it "unavailable"', async () => {
    expect(await routed.head('nowhere')).toBeNull();
    await expect(routed.read('nowhere')).rejects.toBeInstanceOf(StorageNotFoundError);
    a.down = true;
    await router.checkAll();
    await expect(routed.head('nowhere')).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(routed.read('nowhere')).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('deletes from every region, and fails (to be retried) while one is down', async () => {
    const forgotten: string[] = [];
    routed.setHooks({ beforeDelete: async (k) => void forgotten.push(k) });
    await put(a, 'gone', 'x');
    await put(b, 'gone', 'x');
    b.down = true;
    await router.checkAll();
    await expect(routed.delete('gone')).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(await a.head('gone')).toBeNull();
    b.down = false;
    await router.checkAll();
    await routed.delete('gone');
    expect(await b.head('gone')).toBeNull();
    expect(forgotten).toEqual(['gone', 'gone']);
  });

  it('passes its health check while one region is up, and fails it when none is', async () => {
    a.down = true;
    await expect(routed.checkHealth()).resolves.toBeUndefined();
    b.down = true;
    await expect(routed.checkHealth()).rejects.toThrow(/no storage region is healthy/);
    // With every region down, reads still try them all (the states may be stale).
    b.down = false;
    await put(b, 'late', 'y');
    expect(await text(await routed.read('late'))).toBe('y');
  });
});

describe('RoutedStorageDriver multipart uploads', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'routed-mp-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const make = async (name: string) => {
    const d = await localRegionDriver(dir, name);
    return switchable(d);
  };
  const part = (body: string) => ({ body: Readable.from([Buffer.from(body)]), contentLength: Buffer.byteLength(body) });

  it('keeps an upload in the region that started it, even after the write region changed', async () => {
    const a = await make('a');
    const b = await make('b');
    const router = new RegionRouter(
      [
        { name: 'a', primary: true, driver: a },
        { name: 'b', primary: false, driver: b },
      ],
      { healthCheckIntervalMs: 60000, healthCheckTimeoutMs: 1000, failureThreshold: 2 },
    );
    const routed = new RoutedStorageDriver(router, 'media', 1000);
    await router.checkAll();
    const { uploadId, region } = await routed.createMultipartUpload({ key: 'big', contentType: 'video/mp4' });
    expect(region).toBe('a');
    expect(uploadId).toMatch(/^a:/);
    a.down = true;
    await router.checkAll();
    expect(router.writeRegion().name).toBe('b');
    const url = (await routed.presignUploadPart({ key: 'big', uploadId, partNumber: 1, contentLength: 3, expiresInSeconds: 60 })).url;
    expect(url).toContain('/storage/r/a/');
    const { etag } = await routed.uploadPart({ key: 'big', uploadId, partNumber: 1, ...part('abc') });
    expect((await routed.listParts({ key: 'big', uploadId })).map((p) => p.etag)).toEqual([etag]);
    expect((await routed.listMultipartUploads({ prefix: 'big' })).map((u) => u.uploadId)).toEqual([uploadId]);
    await routed.completeMultipartUpload({ key: 'big', uploadId, parts: [{ partNumber: 1, etag }] });
    a.down = false;
    expect((await a.head('big'))?.size).toBe(3);
    expect(await b.head('big')).toBeNull();
    await expect(routed.listParts({ key: 'big', uploadId: 'nowhere:x' })).rejects.toBeInstanceOf(StorageNotFoundError);
    await expect(routed.listParts({ key: 'big', uploadId: 'no-region-prefix' })).rejects.toBeInstanceOf(StorageNotFoundError);
  });

  it("passes straight through with one region (the driver's own upload id)", async () => {
    const only = await make('only');
    const router = new RegionRouter([{ name: 'only', primary: true, driver: only }], {
      healthCheckIntervalMs: 60000,
      healthCheckTimeoutMs: 1000,
      failureThreshold: 2,
    });
    const routed = new RoutedStorageDriver(router, 'media', 1000);
    const { uploadId } = await routed.createMultipartUpload({ key: 'k', contentType: 'text/plain' });
    expect(uploadId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await only.listMultipartUploads({})).map((u) => u.uploadId)).toEqual([uploadId]);
    await routed.abortMultipartUpload({ key: 'k', uploadId });
    expect(await routed.listMultipartUploads({})).toEqual([]);
  });
});

describe('RoutedStorageDriver forwards optional capabilities', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'routed-cap-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const local = async (name: string) => {
    return localRegionDriver(dir, name);
  };
  const put = (d: StorageDriver, key: string, body: string) =>
    d.write({ key, body: Readable.from([Buffer.from(body)]), contentType: 'text/plain', contentLength: Buffer.byteLength(body) });
  const routedOver = async (...regions: [string, StorageDriver][]) => {
    const router = new RegionRouter(
      regions.map(([name, driver], i) => ({ name, primary: i === 0, driver })),
      { healthCheckIntervalMs: 60000, healthCheckTimeoutMs: 1000, failureThreshold: 1 },
    );
    await router.checkAll();
    return { router, routed: new RoutedStorageDriver(router, 'media', 1000) };
  };
  const upload = (n: number) => `uploads/1/0000000${n}-0000-4000-8000-000000000000`;

  it('has both capabilities, whatever its regions are', async () => {
    const { routed } = await routedOver(['only', switchable(await local('only'))]);
    expect(canGiveLocalFile(routed)).toBe(true);
    expect(keepsUsedUploadMarkers(routed)).toBe(true);
  });

  it('gives the file of the region that serves reads of the object: the first usable one holding it', async () => {
    const a = await local('a');
    const b = await local('b');
    const { router, routed } = await routedOver(['a', a], ['b', b]);
    await put(b, 'only-in-b', 'b');
    expect(await routed.localFilePath({ key: 'only-in-b' })).toBe(join(dir, 'b', 'media', 'only-in-b'));
    await put(a, 'both', 'a');
    await put(b, 'both', 'b');
    expect(await routed.localFilePath({ key: 'both' })).toBe(join(dir, 'a', 'media', 'both'));
    expect(await routed.localFilePath({ key: 'nowhere' })).toBeNull();

    // The primary's circuit is open: its copy is not the one read.
    router.recordLiveFailure(router.region('a')!, new StorageUnavailableError('a is unreachable'));
    expect(router.state('a')).toBe('down');
    expect(await routed.localFilePath({ key: 'both' })).toBe(join(dir, 'b', 'media', 'both'));
  });

  it('follows the object into a colder storage class', async () => {
    const only = await local('only');
    const { routed } = await routedOver(['only', only]);
    await put(only, 'cold', 'x');
    await only.setStorageClass({ key: 'cold', storageClass: 'GLACIER_IR' });
    expect(await routed.localFilePath({ key: 'cold' })).toBe(only.tierPath('cold', 'GLACIER_IR'));
  });

  it('answers null when the region holding the object keeps no local files, or when no region can confirm it', async () => {
    const a = await local('a');
    const remote = switchable(await local('remote')); // a driver without the capability (as s3)
    const { routed } = await routedOver(['remote', remote], ['a', a]);
    await put(remote, 'k', 'r');
    await put(a, 'k', 'a');
    expect(await routed.localFilePath({ key: 'k' })).toBeNull();
    await put(a, 'only-local', 'a');
    expect(await routed.localFilePath({ key: 'only-local' })).toBe(join(dir, 'a', 'media', 'only-local'));
    remote.down = true; // an outage while locating: the caller falls back to a signed URL
    expect(await routed.localFilePath({ key: 'not-in-a' })).toBeNull();
  });

  it('purges the used-upload-key markers of every region that keeps them, each key once', async () => {
    const a = await local('a');
    const b = await local('b');
    const remote = switchable(await local('remote'));
    const { routed } = await routedOver(['a', a], ['b', b], ['remote', remote]);
    for (const [d, n] of [
      [a, 1],
      [b, 2],
      [a, 3],
      [b, 3],
    ] as const) {
      await put(d, upload(n), 'x');
      await d.delete(upload(n));
    }
    const later = new Date(Date.now() + 60_000);
    expect(await routed.purgeConsumedMarkers({ olderThan: new Date(0) })).toEqual([]);
    expect((await routed.purgeConsumedMarkers({ olderThan: later, dryRun: true })).sort()).toEqual([upload(1), upload(2), upload(3)]);
    expect(await a.wasConsumed(upload(1))).toBe(true);
    expect((await routed.purgeConsumedMarkers({ olderThan: later })).sort()).toEqual([upload(1), upload(2), upload(3)]);
    for (const n of [1, 2, 3]) {
      expect(await a.wasConsumed(upload(n))).toBe(false);
      expect(await b.wasConsumed(upload(n))).toBe(false);
    }
  });

  it('skips a region that is down when purging (its markers wait for the next run)', async () => {
    const a = await local('a');
    const b = await local('b');
    const { router, routed } = await routedOver(['a', a], ['b', b]);
    await put(b, upload(4), 'x');
    await b.delete(upload(4));
    router.recordLiveFailure(router.region('b')!, new StorageUnavailableError('b is unreachable'));
    expect(await routed.purgeConsumedMarkers({ olderThan: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await b.wasConsumed(upload(4))).toBe(true);
  });
});
