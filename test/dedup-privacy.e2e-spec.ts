/**
 * Dedup is no existence oracle, and trusts no stored object it has not checked — on the local driver and on the S3
 * emulator.
 *
 * Privacy: owner A uploads some bytes; everything A sees is recorded while A's copy is fresh. Then A's copy grows old
 * and cold (the clock moves 91 days, tiering moves it to STANDARD_IA) and, on the local driver, its file is dated
 * 2001. Owner B uploads the same bytes. Every response B sees — upload-url, complete, GET /media/{id}, the list,
 * the download redirect's Location, and the downloaded object's headers — must equal what A saw, once ids, names,
 * times and signatures (functions of those) are masked. B's URL paths must differ from A's.
 *
 * Heal: the stored object is deleted behind the service's back (the file unlinked / DeleteObject on the emulator);
 * the same bytes uploaded again become ready and downloadable, the stored object is restored from them (the first
 * asset downloads again), marked healed, and counted in the integrity metrics. Likewise for a stored object the
 * integrity scan found corrupt (bytes overwritten behind the service's back): it is replaced, never linked to.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { api, Api, sha256, uploadBytes } from './support/api';
import { RunningApp, startApp } from './support/app-process';
import { s3DriverFor, s3ServiceEnv, startS3Server, S3TestServer } from './support/s3-server';
import { waitForOutboxDrained } from './support/waits';

jest.setTimeout(90_000);

const DAY = 24 * 3600;
const S3_BUCKET = 'media-dedup';
const SETTINGS = {
  CLOCK_CONTROL: 'true',
  LIFECYCLE_EXPIRE_PENDING_SCHEDULE: 'off',
  LIFECYCLE_RECONCILE_SCHEDULE: 'off',
  LIFECYCLE_INTEGRITY_SCAN_SCHEDULE: 'off',
  LIFECYCLE_TIERING_SCHEDULE: 'off',
};

interface Driver {
  name: string;
  start(): Promise<{
    app: RunningApp;
    bucket: string;
    removeObject(key: string): Promise<void>;
    /** Other bytes of the same size under the key, behind the service's back (locally: in place, so every hard link sees them). */
    corruptObject(key: string, size: number): Promise<void>;
    ageObject?(key: string): void;
  }>;
  stop(): Promise<void>;
}

const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g;
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
/** Query parameters that are times, or signatures over ids and times. */
const TIME_OR_SIGNATURE = /^(X-Media-Expires|X-Media-Modified|X-Media-Signature|X-Amz-Date|X-Amz-Signature|X-Amz-Credential)$/;

/** `s` with the caller's own ids, names and times masked, and URLs with their time and signature parameters masked. */
function maskString(s: string, own: { assetId: string; ownerId: string; filename: string; keys: string[] }): string {
  let out = s;
  if (/^https?:\/\//.test(out)) {
    const u = new URL(out);
    for (const [k] of [...u.searchParams]) if (TIME_OR_SIGNATURE.test(k)) u.searchParams.set(k, '<t>');
    out = decodeURIComponent(u.toString());
  }
  for (const k of own.keys) out = out.split(k).join('<own-key>');
  out = out.split(own.assetId).join('<asset>').split(own.filename).join('<name>');
  out = out.replace(new RegExp(`(^|/)${own.ownerId}(/|$)`, 'g'), '$1<owner>$2');
  if (out === own.ownerId) out = '<owner>';
  return out.replace(ISO, '<time>').replace(HTTP_DATE, '<http-date>');
}

function mask(v: unknown, own: Parameters<typeof maskString>[1]): unknown {
  if (typeof v === 'string') return maskString(v, own);
  if (Array.isArray(v)) return v.map((x) => mask(x, own));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x, own)]));
  return v;
}

/** Response headers a user sees, without per-request noise (request ids, the date of the answer). */
/**
 * The headers that can differ between owners. A signed read's `max-age` is the link's remaining lifetime, which ticks
 * with the clock (300 or 299 depending on where a second boundary falls): it is masked here and compared as a number
 * (maxAgeOf, within 2 s) by the test.
 */
function headersOf(h: Headers): Record<string, string> {
  const skip = new Set(['date', 'x-request-id', 'x-amz-request-id', 'x-amz-id-2', 'connection', 'keep-alive']);
  return Object.fromEntries(
    [...h].filter(([k]) => !skip.has(k)).map(([k, v]) => [k, k === 'cache-control' ? v.replace(/max-age=\d+/, 'max-age=<remaining>') : v]),
  );
}

function maxAgeOf(h: Headers): number | null {
  const m = /max-age=(\d+)/.exec(h.get('cache-control') ?? '');
  return m ? Number(m[1]) : null;
}

/** Everything one owner sees while uploading `bytes` and reading the asset back. */
async function observe(app: RunningApp, client: Api, ownerId: string, bytes: Buffer, filename: string) {
  const up = await uploadBytes(client, bytes, { filename, mimeType: 'application/octet-stream', checksum: true });
  expect(up.putStatus).toBe(200);
  const complete = await client.post(`/media/${up.assetId}/complete`);
  expect(complete.status).toBe(202);
  const view = await client.get(`/media/${up.assetId}?waitFor=ready&timeout=30`);
  expect(view.body.status).toBe('ready');
  // The background dedup step (link, heal) has run: the worst case for what downloads could reveal.
  await waitForOutboxDrained(app);
  const again = await client.get(`/media/${up.assetId}`);
  const list = await client.get(`/media?limit=10`);
  const redirect = await client.get(`/media/${up.assetId}/download`);
  expect(redirect.status).toBe(302);
  const location = redirect.headers.get('location')!;
  const dl = await fetch(location);
  const body = Buffer.from(await dl.arrayBuffer());
  expect(body.equals(bytes)).toBe(true);
  const [{ object_key: key }] = await app.sql(`SELECT object_key FROM media_assets WHERE asset_id = $1`, [up.assetId]);
  const own = { assetId: up.assetId, ownerId, filename, keys: [key as string] };
  const seen = {
    grant: mask({ ...up.grant }, own),
    complete: mask({ status: complete.status, body: complete.body, headers: headersOf(complete.headers) }, own),
    view: mask({ body: again.body, headers: headersOf(again.headers) }, own),
    list: mask(list.body, own),
    download: mask({ status: redirect.status, headers: headersOf(redirect.headers) }, own),
    object: mask({ status: dl.status, headers: headersOf(dl.headers) }, own),
  };
  return {
    assetId: up.assetId,
    key: key as string,
    seen,
    raw: {
      view: again.body,
      uploadPath: new URL(up.grant.uploadUrl).pathname,
      downloadPath: new URL(location).pathname,
      object: dl.headers,
    },
  };
}

async function metric(app: RunningApp, name: string): Promise<number> {
  const text = await (await fetch(`${app.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

let s3: S3TestServer | undefined;
let s3Driver: ReturnType<typeof s3DriverFor> | undefined;
const drivers: Driver[] = [
  {
    name: 'local',
    async start() {
      const app = await startApp(SETTINGS);
      const file = (key: string) => path.join(app.storageRoot, 'media', key);
      return {
        app,
        bucket: 'media',
        removeObject: async (key) => rmSync(file(key)),
        corruptObject: async (key, size) => writeFileSync(file(key), Buffer.alloc(size, 0x21)),
        // Tiered: the local driver keeps STANDARD_IA objects under .tiers/.
        ageObject: (key) => {
          const tiered = path.join(app.storageRoot, '.tiers', 'STANDARD_IA', 'media', key);
          utimesSync(tiered, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
        },
      };
    },
    stop: async () => undefined,
  },
  {
    name: 's3 emulator',
    async start() {
      s3 = await startS3Server({ buckets: [S3_BUCKET] });
      const app = await startApp({ ...SETTINGS, ...s3ServiceEnv(s3, S3_BUCKET) });
      const driver = (s3Driver = s3DriverFor(s3, S3_BUCKET));
      return {
        app,
        bucket: S3_BUCKET,
        removeObject: (key) => driver.delete(key), // DeleteObject, straight to the emulator
        corruptObject: (key, size) =>
          driver.write({
            key,
            body: Readable.from([Buffer.alloc(size, 0x21)]),
            contentType: 'application/octet-stream',
            contentLength: size,
          }),
      };
    },
    stop: async () => {
      s3Driver?.destroy();
      await s3?.stop();
    },
  },
];

describe.each(drivers)('dedup privacy and healing ($name driver)', (driver) => {
  let env: Awaited<ReturnType<Driver['start']>>;
  let admin: Api;

  beforeAll(async () => {
    env = await driver.start();
    admin = api(env.app.baseUrl, 1, { roles: ['admin'] });
  });
  afterAll(async () => {
    await env?.app.stop();
    await driver.stop();
  });

  it('a duplicate upload looks exactly like a first upload: only ids, names and times differ', async () => {
    const { app } = env;
    const bytes = randomBytes(64 * 1024);
    const first = await observe(app, api(app.baseUrl, 601), '601', bytes, 'first.bin');
    expect(first.raw.view.storageClass).toBe('STANDARD');

    // The first copy grows old and cold: 91 days unread, tiered to STANDARD_IA (and, locally, its file dated 2001).
    expect((await admin.put('/admin/clock', { advanceSeconds: 91 * DAY })).status).toBe(200);
    const tiering = await admin.post('/admin/jobs/tiering/run');
    expect(tiering.body.summary.objects.map((o: any) => o.assetId)).toEqual([first.assetId]);
    expect((await api(app.baseUrl, 601).get(`/media/${first.assetId}`)).body.storageClass).toBe('STANDARD_IA');
    env.ageObject?.(first.key);

    const dup = await observe(app, api(app.baseUrl, 602), '602', bytes, 'again.bin');
    expect(await app.sql(`SELECT ref_count FROM stored_objects WHERE checksum_sha256 = $1`, [sha256(bytes)])).toEqual([{ ref_count: 2 }]);
    // Everything B saw equals what A saw while A's copy was new.
    expect(dup.seen).toEqual(first.seen);
    const [firstAge, dupAge] = [maxAgeOf(first.raw.object), maxAgeOf(dup.raw.object)];
    expect(dupAge === null).toBe(firstAge === null);
    if (firstAge !== null) expect(Math.abs(dupAge! - firstAge)).toBeLessThanOrEqual(2);
    expect(dup.raw.view.storageClass).toBe('STANDARD');
    // B's URLs name nothing of A's: other paths, and validators from B's own asset.
    expect(dup.raw.uploadPath).not.toBe(first.raw.uploadPath);
    expect(dup.raw.downloadPath).not.toBe(first.raw.downloadPath);
    expect(dup.raw.downloadPath).not.toContain(first.key);
    const lastModified = Date.parse(dup.raw.object.get('last-modified')!);
    expect(Math.abs(lastModified - Date.parse(dup.raw.view.readyAt))).toBeLessThan(5000);
    expect(dup.raw.object.get('x-amz-storage-class') ?? 'STANDARD').toBe('STANDARD');
    await admin.put('/admin/clock', {});
  });

  it('heals a stored object deleted behind its back with the next upload of the same bytes', async () => {
    const { app } = env;
    const alice = api(app.baseUrl, 701);
    const bob = api(app.baseUrl, 702);
    const bytes = randomBytes(48 * 1024);
    const sum = sha256(bytes);
    const up = await uploadBytes(alice, bytes, { filename: 'kept.bin', mimeType: 'application/octet-stream' });
    await alice.post(`/media/${up.assetId}/complete`);
    expect((await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    await waitForOutboxDrained(app);
    const stored = await admin.get(`/admin/objects/${sum}`);
    const key = stored.body.regions[0].objectKey as string;

    // Lost behind the service's back: the first asset's downloads now fail.
    await env.removeObject(key);
    const broken = await fetch((await alice.get(`/media/${up.assetId}/download`)).headers.get('location')!);
    expect(broken.status).toBe(404);
    const healedBefore = await metric(app, 'media_integrity_healed_objects_total');
    const corruptBefore = await metric(app, 'media_integrity_corrupt_objects_total');

    // The same bytes again, from someone else: ready, downloadable, and the stored object is whole again.
    const again = await uploadBytes(bob, bytes, { filename: 'again.bin', mimeType: 'application/octet-stream' });
    await bob.post(`/media/${again.assetId}/complete`);
    expect((await bob.get(`/media/${again.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    const bobs = await fetch((await bob.get(`/media/${again.assetId}/download`)).headers.get('location')!);
    expect(Buffer.from(await bobs.arrayBuffer()).equals(bytes)).toBe(true);
    await waitForOutboxDrained(app);

    expect(await metric(app, 'media_integrity_healed_objects_total')).toBe(healedBefore + 1);
    expect(await metric(app, 'media_integrity_corrupt_objects_total')).toBe(corruptBefore + 1);
    const healed = (await admin.get(`/admin/objects/${sum}`)).body;
    expect(healed).toMatchObject({
      refCount: 2,
      integrity: 'ok',
      integrityNote: expect.stringMatching(/^missing from storage; restored from asset/),
    });
    expect(healed.regions[0].objectKey).toBe(key);
    // The first asset reads again, with the right bytes.
    const alices = await fetch((await alice.get(`/media/${up.assetId}/download`)).headers.get('location')!);
    expect(alices.status).toBe(200);
    expect(Buffer.from(await alices.arrayBuffer()).equals(bytes)).toBe(true);
    // Reference counts stay exact: deleting both releases the object.
    expect((await alice.del(`/media/${up.assetId}`)).status).toBe(204);
    expect((await bob.del(`/media/${again.assetId}`)).status).toBe(204);
    expect((await admin.get(`/admin/objects/${sum}`)).status).toBe(404);
  });

  it('replaces a stored object the integrity scan found corrupt with the next verified upload of the same bytes', async () => {
    const { app } = env;
    const alice = api(app.baseUrl, 801);
    const bob = api(app.baseUrl, 802);
    const bytes = randomBytes(32 * 1024);
    const sum = sha256(bytes);
    const up = await uploadBytes(alice, bytes, { filename: 'rot.bin', mimeType: 'application/octet-stream' });
    await alice.post(`/media/${up.assetId}/complete`);
    expect((await alice.get(`/media/${up.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    await waitForOutboxDrained(app);
    const key = (await admin.get(`/admin/objects/${sum}`)).body.regions[0].objectKey as string;

    // Bit rot behind the service's back, found by the integrity scan (no healthy copy anywhere: it stays corrupt).
    await env.corruptObject(key, bytes.length);
    await app.sql(`UPDATE stored_objects SET last_verified_at = NULL WHERE checksum_sha256 = $1`, [sum]);
    const scan = await admin.post('/admin/jobs/integrity-scan/run');
    expect(scan.status).toBe(200);
    expect((await admin.get(`/admin/objects/${sum}`)).body.integrity).toBe('corrupt');
    const healedBefore = await metric(app, 'media_integrity_healed_objects_total');

    // The same bytes again are verified by processing, so they replace the rotten copy instead of being linked to it.
    const again = await uploadBytes(bob, bytes, { filename: 'fresh.bin', mimeType: 'application/octet-stream' });
    await bob.post(`/media/${again.assetId}/complete`);
    expect((await bob.get(`/media/${again.assetId}?waitFor=ready&timeout=30`)).body.status).toBe('ready');
    await waitForOutboxDrained(app);
    expect(await metric(app, 'media_integrity_healed_objects_total')).toBe(healedBefore + 1);
    expect((await admin.get(`/admin/objects/${sum}`)).body).toMatchObject({
      integrity: 'ok',
      integrityNote: expect.stringMatching(/^corrupt; restored/),
    });
    for (const [client, id] of [
      [alice, up.assetId],
      [bob, again.assetId],
    ] as const) {
      const res = await fetch((await client.get(`/media/${id}/download`)).headers.get('location')!);
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sum);
    }
  });
});
