/**
 * GET /media over 1,000,000 assets: seeds its own database with generate_series, starts the built service on it
 * (production mode, 127.0.0.1) and times typical list queries through the real HTTP API, one request at a time.
 * Prints p50/p99 per query and, for each, the plan PostgreSQL chose (EXPLAIN ANALYZE of the exact SQL the service
 * runs, built by the same function) with the indexes it used.
 *
 *   npm run bench:list                    seed (about a minute) and run
 *   BENCH_REUSE=1 npm run bench:list      reuse the seeded database from a previous run
 *   BENCH_ASSETS=200000 BENCH_REQUESTS=100 ...
 *   BENCH_ONLY='q=' ...                   only the shapes whose name matches this regular expression
 *   BENCH_BUCKETS=0 ...                   without the two user-facing buckets (removed if a reused database has them)
 */
import { ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, MAIN_JS, REPO_ROOT, token } from '../test/support/app-process';
import type * as ListQueryModule from '../libs/assets/src/asset-list.query';
import type * as DatabaseOptionsModule from '../libs/core/src/database/database-options';

const ASSETS = Number(process.env.BENCH_ASSETS ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const DB = process.env.BENCH_DATABASE ?? 'media_bench_list';
const PG = 'postgres://postgres@127.0.0.1:5432';
const SECRET = 'bench-production-secret-0123456789abcdef';
const STORAGE_ROOT = path.join(os.tmpdir(), `bench-list-${process.pid}`);
const HEAVY_OWNER = 1; // 10% of all assets
const USER = 57; // a typical owner (~450 assets) in groups g3 and g7

// The service's own query builder (from the nest build), so that EXPLAIN shows exactly what the service runs.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known at run time (dist/), typed by the import above
const listQuery: typeof ListQueryModule = require(path.join(REPO_ROOT, 'dist/libs/assets/src/asset-list.query.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
const databaseOptions: typeof DatabaseOptionsModule = require(path.join(REPO_ROOT, 'dist/libs/core/src/database/database-options.js'));

async function seed(db: Client) {
  const t0 = Date.now();
  console.log(`seeding ${ASSETS.toLocaleString('en')} assets …`);
  await db.query(`SET session_replication_role = replica`); // no trigger per row; owner_usage is rebuilt below
  await db.query(`SET synchronous_commit = off`);
  await db.query(`TRUNCATE media_assets, asset_metadata, asset_acl, owner_usage CASCADE`);
  await db.query(
    `CREATE OR REPLACE FUNCTION pg_temp.h(i bigint, seed int) RETURNS bigint IMMUTABLE LANGUAGE sql AS 'SELECT abs(hashint8extended(i, seed))'`,
  );
  await db.query(
    `CREATE OR REPLACE FUNCTION pg_temp.hu(id uuid, seed int) RETURNS bigint IMMUTABLE LANGUAGE sql AS 'SELECT abs(hashtextextended(id::text, seed))'`,
  );
  // Owner 1 holds every 10th asset; the rest spread over owners 2..2001 (~450 each). Newest is i = 1, one asset
  // every ~31 s back over a year. Status: 90% ready, 4% pending, 3% failed, 1% processing, 2% deleted. Each
  // attribute comes from its own hash of i, so that they are independent (as in real data, not striped).
  await db.query(
    `INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, checksum_sha256, status,
                               created_at, updated_at, filename, upload_expires_at, ready_at, container, path, search_text)
     SELECT id, owner, 'media', 'uploads/' || owner || '/' || id, mime, 1000 + (i * 7919) % 5000000,
            CASE WHEN st = 'ready' THEN md5(i::text) || md5((i + 1)::text) END, st::media_asset_status,
            ts, ts, name, ts + interval '15 minutes', CASE WHEN st = 'ready' THEN ts END,
            'default', p, search_fold(name || ' ' || p) -- what the media_assets_search_text trigger (off here) would store
       FROM (SELECT *, 'u' || owner || '/' || (ARRAY['photos', 'docs', 'invoices', 'misc'])[1 + pg_temp.h(i, 11) % 4] || '/' || name AS p
       FROM (SELECT i, gen_random_uuid() AS id,
                    -- Names to search: 8 words (one accented) and the row number, e.g. "Café menu 4217.bin".
                    (ARRAY['holiday photo', 'Café menu', 'invoice', 'report', 'résumé', 'screenshot', 'scan', 'notes'])[1 + pg_temp.h(i, 10) % 8]
                      || ' ' || i || '.bin' AS name,
                    CASE WHEN i % 10 = 0 THEN ${HEAVY_OWNER} ELSE 2 + pg_temp.h(i, 1) % 2000 END AS owner,
                    CASE WHEN pg_temp.h(i, 2) % 20 < 12 THEN 'image/jpeg' WHEN pg_temp.h(i, 2) % 20 < 15 THEN 'image/png' WHEN pg_temp.h(i, 2) % 20 < 17 THEN 'video/mp4'
                         WHEN pg_temp.h(i, 2) % 20 < 19 THEN 'application/pdf' ELSE 'audio/mpeg' END AS mime,
                    CASE WHEN pg_temp.h(i, 3) % 100 < 90 THEN 'ready' WHEN pg_temp.h(i, 3) % 100 < 94 THEN 'pending' WHEN pg_temp.h(i, 3) % 100 < 97 THEN 'failed'
                         WHEN pg_temp.h(i, 3) % 100 < 98 THEN 'processing' ELSE 'deleted' END AS st,
                    now() - make_interval(secs => i * 31.536 + random()) AS ts
               FROM generate_series(1::bigint, $1::bigint) AS i) s) t`,
    [ASSETS],
  );
  console.log(`  media_assets ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // Tags: every asset has project=p0..p199, every 5th a camera=c0..c19; ready images have media:detected_type.
  await db.query(
    `INSERT INTO asset_metadata (asset_id, key, value)
     SELECT asset_id, 'project', 'p' || pg_temp.hu(asset_id, 4) % 200 FROM media_assets
     UNION ALL
     SELECT asset_id, 'camera', 'c' || pg_temp.hu(asset_id, 5) % 20 FROM media_assets WHERE pg_temp.hu(asset_id, 6) % 5 = 0
     UNION ALL
     SELECT asset_id, 'media:detected_type', mime_type FROM media_assets WHERE status = 'ready' AND mime_type LIKE 'image/%' AND owner_id = ${HEAVY_OWNER}`,
  );
  console.log(`  asset_metadata ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // Grants: 2% to one of 20 groups, 1% to a user, 0.5% to anyone.
  await db.query(
    `INSERT INTO asset_acl (asset_id, principal, permission, search_text) -- search_text: what the asset_acl_search_text trigger would copy
     SELECT asset_id, p, 'read', search_text FROM (
       SELECT asset_id, search_text, CASE WHEN n % 1000 < 20 THEN 'group:g' || pg_temp.hu(asset_id, 8) % 20 WHEN n % 1000 < 30 THEN 'user:' || (2 + pg_temp.hu(asset_id, 9) % 2000)
                             WHEN n % 1000 < 35 THEN '*' END AS p
         FROM (SELECT asset_id, search_text, pg_temp.hu(asset_id, 7) AS n FROM media_assets) a) g
     WHERE p IS NOT NULL`,
  );
  await db.query(
    `INSERT INTO owner_usage (owner_id, bytes, assets)
     SELECT owner_id, sum(size_bytes), count(*) FROM media_assets WHERE status IN ('processing', 'ready') GROUP BY owner_id`,
  );
  await db.query(`SET session_replication_role = origin`);
  await db.query(`VACUUM ANALYZE media_assets`);
  await db.query(`VACUUM ANALYZE asset_metadata`);
  await db.query(`VACUUM ANALYZE asset_acl`);
  const [{ a, m, g }] = (
    await db.query(
      `SELECT (SELECT count(*) FROM media_assets) AS a, (SELECT count(*) FROM asset_metadata) AS m, (SELECT count(*) FROM asset_acl) AS g`,
    )
  ).rows;
  console.log(`seeded ${a} assets, ${m} metadata rows, ${g} grants in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Two user-facing buckets (idempotent, so BENCH_REUSE runs get them too): `bench-public` (public) and `bench-team`
 * (read granted to group g3), 20,000 assets each, named "atlas …" (half) or "poster …", so that `q=atlas` matches
 * only assets readable through a bucket. They are older than every default-bucket asset: the earlier shapes' pages
 * are unchanged (their bucket branch still runs).
 */
async function seedBuckets(db: Client) {
  if ((await db.query(`SELECT 1 FROM buckets WHERE name = 'bench-public'`)).rowCount) return;
  const t0 = Date.now();
  await db.query(`SET session_replication_role = replica`);
  await db.query(`INSERT INTO buckets (name, owner_id, public) VALUES ('bench-public', 3, true), ('bench-team', 4, false)`);
  await db.query(`INSERT INTO bucket_acl (bucket_name, principal, permission) VALUES ('bench-team', 'group:g3', 'read')`);
  await db.query(
    `INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, checksum_sha256, status,
                               created_at, updated_at, filename, upload_expires_at, ready_at, container, path, search_text)
     SELECT id, owner, 'media', 'uploads/' || owner || '/' || id, 'image/jpeg', 1000 + i, md5(i::text) || md5((i + 1)::text), 'ready',
            ts, ts, name, ts + interval '15 minutes', ts, c, 'shared/' || name, search_fold(name || ' ' || 'shared/' || name)
       FROM (SELECT i, c, gen_random_uuid() AS id, 2 + abs(hashint8extended(i, 21)) % 2000 AS owner,
                    (CASE WHEN i % 2 = 0 THEN 'atlas page ' ELSE 'poster ' END) || i || '.jpg' AS name,
                    now() - interval '400 days' - make_interval(secs => i * 31.536) AS ts
               FROM generate_series(1::bigint, 20000) AS i, unnest(ARRAY['bench-public', 'bench-team']) AS c) t`,
  );
  await db.query(`SET session_replication_role = origin`);
  await db.query(`ANALYZE media_assets`);
  await db.query(`ANALYZE buckets`);
  await db.query(`ANALYZE bucket_acl`);
  console.log(`seeded 2 buckets × 20,000 assets in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** BENCH_BUCKETS=0: the data set without seedBuckets' buckets (as before they were added), for comparisons. */
async function dropBuckets(db: Client) {
  if (!(await db.query(`SELECT 1 FROM buckets WHERE name = 'bench-public'`)).rowCount) return;
  await db.query(`SET session_replication_role = replica`);
  await db.query(`DELETE FROM media_assets WHERE container IN ('bench-public', 'bench-team')`);
  await db.query(`SET session_replication_role = origin`);
  await db.query(`DELETE FROM buckets WHERE name IN ('bench-public', 'bench-team')`);
  await db.query(`VACUUM ANALYZE media_assets`);
  await db.query(`ANALYZE buckets`);
  await db.query(`ANALYZE bucket_acl`);
}

async function startService(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN_JS], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `${PG}/${DB}`,
      REDIS_KEY_PREFIX: `bench_list_${process.pid}`,
      JWT_SECRET: SECRET,
      METRICS_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      WORKER_ENABLED: 'false',
      LOCAL_STORAGE_ROOT: STORAGE_ROOT,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/live`)).ok) return child;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('service did not start');
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

interface Case {
  name: string;
  sub: number;
  groups?: string[];
  query: string;
  /** The same query as the service builds it, for EXPLAIN. */
  filters: ListQueryModule.AssetListFilters;
  limit?: number;
  deepCursor?: boolean;
  /** Another route than GET /media (its SQL is not built by buildListQuery: no plan shown). */
  route?: string;
}

async function main() {
  const admin = new Client({ connectionString: `${PG}/postgres` });
  await admin.connect();
  const exists = (await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [DB])).rowCount;
  const reuse = process.env.BENCH_REUSE === '1' && exists;
  if (!reuse) {
    await admin.query(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${DB}"`);
  }
  await admin.end();

  const port = await freePort();
  const service = await startService(port); // runs the migrations
  // The service's session settings (no JIT, no parallel workers), so that EXPLAIN shows the plan the service gets.
  const db = new Client({ connectionString: `${PG}/${DB}`, options: databaseOptions.DATABASE_SESSION_OPTIONS });
  await db.connect();
  try {
    if (!reuse) await seed(db);
    const withBuckets = process.env.BENCH_BUCKETS !== '0';
    if (withBuckets) await seedBuckets(db);
    else await dropBuckets(db);
    console.log(
      `# GET /media over ${ASSETS.toLocaleString('en')} assets — ${os.cpus().length} × ${os.cpus()[0].model}, Node ${process.version}, PostgreSQL ${(await db.query('SHOW server_version')).rows[0].server_version}`,
    );
    console.log(
      `# ${REQUESTS} sequential requests per query after 20 warm-up requests; latency measured at the client (HTTP, JSON, auth included)\n`,
    );

    const [{ from, to }] = (
      await db.query(`SELECT (now() - interval '100 days')::timestamptz AS from, (now() - interval '93 days')::timestamptz AS to`)
    ).rows;
    const week = { createdFrom: new Date(from).toISOString(), createdTo: new Date(to).toISOString() };
    const cases: Case[] = [
      { name: 'user: everything readable (own + shared + *)', sub: USER, groups: ['g3', 'g7'], query: '', filters: {} },
      { name: 'user: own assets', sub: USER, query: `owner=${USER}`, filters: { owner: String(USER) } },
      {
        name: 'user: own ready images',
        sub: USER,
        query: `owner=${USER}&status=ready&mimeType=image/`,
        filters: { owner: String(USER), statuses: ['ready' as any], mimeTypePrefix: 'image/' },
      },
      {
        name: 'user: readable with tag project:p17',
        sub: USER,
        groups: ['g3', 'g7'],
        query: 'tag=project:p17',
        filters: { tags: [listQuery.parseTagFilter('project:p17')] },
      },
      { name: 'stranger: only * grants', sub: 999999, query: '', filters: {} },
      { name: 'heavy owner (100k): first page', sub: HEAVY_OWNER, query: `owner=${HEAVY_OWNER}`, filters: { owner: String(HEAVY_OWNER) } },
      {
        name: 'heavy owner: page 200 (cursor, 10k deep)',
        sub: HEAVY_OWNER,
        query: `owner=${HEAVY_OWNER}`,
        filters: { owner: String(HEAVY_OWNER) },
        deepCursor: true,
      },
      {
        name: 'heavy owner: video/ (10%)',
        sub: HEAVY_OWNER,
        query: `owner=${HEAVY_OWNER}&mimeType=video/`,
        filters: { owner: String(HEAVY_OWNER), mimeTypePrefix: 'video/' },
      },
      {
        name: 'heavy owner: status=failed (3%)',
        sub: HEAVY_OWNER,
        query: `owner=${HEAVY_OWNER}&status=failed`,
        filters: { owner: String(HEAVY_OWNER), statuses: ['failed' as any] },
      },
      {
        name: 'heavy owner: status=quarantined (none)',
        sub: HEAVY_OWNER,
        query: `owner=${HEAVY_OWNER}&status=quarantined`,
        filters: { owner: String(HEAVY_OWNER), statuses: ['quarantined' as any] },
      },
      {
        name: 'heavy owner: tag project:p5 AND camera:c3',
        sub: HEAVY_OWNER,
        query: `owner=${HEAVY_OWNER}&tag=project:p5&tag=camera:c3`,
        filters: { owner: String(HEAVY_OWNER), tags: [listQuery.parseTagFilter('project:p5'), listQuery.parseTagFilter('camera:c3')] },
      },
      {
        name: 'heavy owner: one week, 100 days ago',
        sub: HEAVY_OWNER,
        query: `owner=${HEAVY_OWNER}&createdFrom=${encodeURIComponent(week.createdFrom)}&createdTo=${encodeURIComponent(week.createdTo)}`,
        filters: { owner: String(HEAVY_OWNER), ...week },
      },
      {
        name: 'heavy owner: limit=1000',
        sub: HEAVY_OWNER,
        query: `owner=${HEAVY_OWNER}&limit=1000`,
        filters: { owner: String(HEAVY_OWNER) },
        limit: 1000,
      },
      // Name search (issue 17): trigram index on search_fold(filename || ' ' || path), ranked by similarity.
      { name: 'user: q=cafe (own + shared, ~1/8 match)', sub: USER, groups: ['g3', 'g7'], query: 'q=cafe', filters: { q: 'cafe' } },
      { name: 'heavy owner: q=résumé (12k match, ranked)', sub: HEAVY_OWNER, query: 'q=r%C3%A9sum%C3%A9', filters: { q: 'résumé' } },
      { name: 'heavy owner: q=invoice 4242 (selective)', sub: HEAVY_OWNER, query: 'q=invoice%204242', filters: { q: 'invoice 4242' } },
      { name: 'stranger: q=report (only * grants)', sub: 999999, query: 'q=report', filters: { q: 'report' } },
      { name: 'user: q=cafe, own only', sub: USER, query: `owner=${USER}&q=cafe`, filters: { owner: String(USER), q: 'cafe' } },
      {
        name: 'user in all 20 groups: q=cafe (~25k grants)',
        sub: USER,
        groups: Array.from({ length: 20 }, (_, i) => `g${i}`),
        query: 'q=cafe',
        filters: { q: 'cafe' },
      },
      { name: 'stranger: q=invoice 4242 (none visible)', sub: 999999, query: 'q=invoice%204242', filters: { q: 'invoice 4242' } },
      // Name search over assets readable through a bucket only (public bucket; bucket read grant to a group).
      { name: 'stranger: q=atlas (public bucket, 10k match)', sub: 999999, query: 'q=atlas', filters: { q: 'atlas' } },
      {
        name: 'user in g3: q=atlas (team + public bucket)',
        sub: USER,
        groups: ['g3', 'g7'],
        query: 'q=atlas',
        filters: { q: 'atlas' },
      },
      // Folder listing by path (GET /buckets/{bucket}/objects): per-asset visibility in the default bucket.
      {
        name: 'user: ls default/u57/ (delimiter /)',
        sub: USER,
        query: '',
        filters: {},
        route: `/buckets/default/objects?prefix=u${USER}/&delimiter=/&limit=50`,
      },
      {
        name: 'user: ls default/u57/ q=cafe',
        sub: USER,
        query: '',
        filters: {},
        route: `/buckets/default/objects?prefix=u${USER}/&q=cafe&limit=50`,
      },
      {
        name: 'heavy owner: ls default/u1/ q=résumé',
        sub: HEAVY_OWNER,
        query: '',
        filters: {},
        route: `/buckets/default/objects?prefix=u${HEAVY_OWNER}/&q=r%C3%A9sum%C3%A9&limit=50`,
      },
      {
        name: 'heavy owner: ls default/u1/photos/ (12k)',
        sub: HEAVY_OWNER,
        query: '',
        filters: {},
        route: `/buckets/default/objects?prefix=u${HEAVY_OWNER}/photos/&delimiter=/&limit=50`,
      },
      {
        name: 'stranger: ls default/ q=report (only * grants)',
        sub: 999999,
        query: '',
        filters: {},
        route: `/buckets/default/objects?q=report&limit=50`,
      },
      {
        name: 'user in 20 groups: ls default/ q=cafe',
        sub: USER,
        groups: Array.from({ length: 20 }, (_, i) => `g${i}`),
        query: '',
        filters: {},
        route: `/buckets/default/objects?q=cafe&limit=50`,
      },
      {
        name: 'stranger: ls bench-public/ q=atlas',
        sub: 999999,
        query: '',
        filters: {},
        route: `/buckets/bench-public/objects?q=atlas&limit=50`,
      },
    ];

    const base = `http://127.0.0.1:${port}`;
    const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : null; // e.g. BENCH_ONLY='q=|atlas'
    for (const c of cases) {
      if (only && !only.test(c.name)) continue;
      if (!withBuckets && /atlas|bench-/.test(c.name)) continue;
      const auth = { authorization: `Bearer ${token(c.sub, c.groups ? { groups: c.groups } : {}, SECRET)}` };
      let url = c.route ? `${base}${c.route}` : `${base}/media?${c.query}${c.limit ? '' : `${c.query ? '&' : ''}limit=50`}`;
      let cursor: ListQueryModule.ListCursor | undefined;
      if (c.deepCursor) {
        let next: string | null = null;
        for (let page = 0; page < 200; page++) {
          const r: any = await (await fetch(`${url}${next ? `&cursor=${next}` : ''}`, { headers: auth })).json();
          if (!r.nextCursor) break;
          next = r.nextCursor;
        }
        url = `${url}&cursor=${next}`;
        cursor = JSON.parse(Buffer.from(next!, 'base64url').toString());
        cursor = { us: (cursor as any).t, id: (cursor as any).i };
      }
      let items = 0;
      for (let i = 0; i < 20; i++) await (await fetch(url, { headers: auth })).arrayBuffer();
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const t = process.hrtime.bigint();
        const res = await fetch(url, { headers: auth });
        const body: any = await res.json();
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (res.status !== 200) throw new Error(`${c.name}: ${res.status} ${JSON.stringify(body)}`);
        items = body.items.length + (body.prefixes?.length ?? 0);
      }
      times.sort((a, b) => a - b);
      if (c.route) {
        console.log(
          `${c.name.padEnd(46)} p50 ${percentile(times, 50).toFixed(1).padStart(6)} ms  p99 ${percentile(times, 99).toFixed(1).padStart(6)} ms  ${String(items).padStart(4)} items`,
        );
        continue;
      }
      // The plan, for the exact SQL the service ran.
      const principals = ['*', `user:${c.sub}`, ...(c.groups ?? []).map((g) => `group:${g}`)];
      const q = listQuery.buildListQuery({ userId: String(c.sub), principals }, c.filters, c.limit ?? 50, cursor);
      const plan = (await db.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${q.text}`, q.values)).rows[0]['QUERY PLAN'][0];
      const indexes = new Set<string>();
      let seqScans = 0;
      let gathers = 0;
      const walk = (n: any) => {
        if (n['Index Name']) indexes.add(n['Index Name']);
        if (n['Node Type'] === 'Seq Scan') seqScans++;
        if (n['Node Type'] === 'Gather' || n['Node Type'] === 'Gather Merge') gathers++;
        for (const k of n.Plans ?? []) walk(k);
      };
      walk(plan.Plan);
      const line = `${c.name.padEnd(46)} p50 ${percentile(times, 50).toFixed(1).padStart(6)} ms  p99 ${percentile(times, 99).toFixed(1).padStart(6)} ms  ${String(items).padStart(4)} items  SQL ${plan['Execution Time'].toFixed(2)} ms`;
      console.log(line);
      console.log(
        `    plan: ${[...indexes].join(', ') || '(no index)'}${seqScans ? `  — ${seqScans} SEQ SCAN(S)` : ''}${gathers ? `  — ${gathers} PARALLEL (Gather)` : ''}`,
      );
    }
  } finally {
    await db.end();
    const exited = new Promise((r) => service.once('exit', r));
    service.kill('SIGTERM');
    await exited;
    rmSync(STORAGE_ROOT, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
