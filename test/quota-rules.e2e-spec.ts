/**
 * The quota rule exists three times: in SQL (create_pending_asset, migration 1764000008000, which decides under the
 * owner's lock whether a pending asset is created; create_pending_assets, migration 1764000015000, which decides a
 * whole batch of them in arrival order) and in TypeScript (quota-rules.ts: effectiveLimits + checkQuota,
 * which explains a refusal as 413/429). This runs both on the same generated cases — committed usage, live and
 * expired pending uploads, defaults, per-owner overrides, sizes at and around every limit — against the real
 * function in PostgreSQL, and expects the same verdict and the same figures every time.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import { checkQuota, effectiveLimits, type QuotaOverride } from '@app/assets';
import { RunningApp, startApp } from './support/app-process';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const OWNER = '4242';

/** A limit as generated: 0 (unlimited), any value, or within a few units of what this case needs (the boundary). */
type LimitSpec = { kind: 'zero' } | { kind: 'abs'; value: number } | { kind: 'near'; slack: number };

const amount = fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 10_000_000_000_000 }));
const limitSpec: fc.Arbitrary<LimitSpec> = fc.oneof(
  fc.constant({ kind: 'zero' as const }),
  amount.map((value) => ({ kind: 'abs' as const, value })),
  fc.integer({ min: -3, max: 3 }).map((slack) => ({ kind: 'near' as const, slack })),
  fc.integer({ min: -3, max: 3 }).map((slack) => ({ kind: 'near' as const, slack })),
);

const quotaCase = fc.record({
  committedBytes: amount,
  committedAssets: fc.integer({ min: 0, max: 50 }),
  livePending: fc.array(amount, { maxLength: 4 }),
  expiredPending: fc.array(amount, { maxLength: 3 }),
  defaults: fc.record({ maxBytes: limitSpec, maxAssets: limitSpec }),
  override: fc.option(fc.record({ maxBytes: fc.option(limitSpec), maxAssets: fc.option(limitSpec) }), { nil: null }),
  sizeBytes: amount,
  /** Further requests of the same owner in the same batch (create_pending_assets), after sizeBytes. */
  more: fc.array(amount, { maxLength: 5 }),
});
type QuotaCase = typeof quotaCase extends fc.Arbitrary<infer T> ? T : never;

function resolve(spec: LimitSpec, needed: number): number {
  if (spec.kind === 'zero') return 0;
  if (spec.kind === 'abs') return spec.value;
  return Math.max(0, needed + spec.slack);
}

describe('quota rule: create_pending_asset(s) (SQL) and quota-rules.ts agree', () => {
  let app: RunningApp;
  let db: Client;

  beforeAll(async () => {
    app = await startApp();
    db = new Client({ connectionString: app.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await app?.stop();
  });

  /**
   * Sets the case up, runs `run` (create_pending_asset, or create_pending_assets on a batch), and rolls everything
   * back: each case starts from an empty owner.
   */
  async function withCase<T>(c: QuotaCase, override: QuotaOverride | null, run: () => Promise<T>): Promise<T> {
    await db.query('BEGIN');
    try {
      await db.query(`INSERT INTO owner_usage (owner_id, bytes, assets) VALUES ($1, $2, $3)`, [OWNER, c.committedBytes, c.committedAssets]);
      const pending = [
        ...c.livePending.map((size) => ({ size, expired: false })),
        ...c.expiredPending.map((size) => ({ size, expired: true })),
      ];
      for (const p of pending) {
        // The media_assets_usage trigger counts each pending row into owner_usage, as in production.
        await db.query(
          `INSERT INTO media_assets (asset_id, owner_id, bucket, object_key, mime_type, size_bytes, status, filename, upload_expires_at)
           VALUES ($1, $2, 'b', $3, 'text/plain', $4, 'pending', 'f.txt', now() + $5::interval)`,
          [randomUUID(), OWNER, `k/${randomUUID()}`, p.size, p.expired ? '-1 hour' : '1 hour'],
        );
      }
      if (override) {
        await db.query(`INSERT INTO owner_quotas (owner_id, max_bytes, max_assets) VALUES ($1, $2, $3)`, [
          OWNER,
          override.maxBytes,
          override.maxAssets,
        ]);
      }
      return await run();
    } finally {
      await db.query('ROLLBACK');
    }
  }

  async function runSql(c: QuotaCase, defaults: { maxBytes: number; maxAssets: number }, override: QuotaOverride | null) {
    return withCase(c, override, async () => {
      const { rows } = await db.query(
        `SELECT created, committed_bytes::text, committed_assets::text, pending_bytes::text, pending_assets::text,
                override_max_bytes::text, override_max_assets::text, has_override
           FROM create_pending_asset($1, $2, $3, $4, $5, 'b', $6, 'text/plain', 'new.txt', NULL, now() + interval '1 hour',
                                     '{}', '{}', '{}', '{}')`,
        [OWNER, c.sizeBytes, defaults.maxBytes, defaults.maxAssets, randomUUID(), `k/${randomUUID()}`],
      );
      return rows[0] as Record<string, string | boolean | null>;
    });
  }

  /** The batch function on sizes in arrival order; one answer per request, plus the rows it inserted. */
  async function runBatchSql(
    c: QuotaCase,
    sizes: number[],
    defaults: { maxBytes: number; maxAssets: number },
    override: QuotaOverride | null,
  ) {
    return withCase(c, override, async () => {
      const requests = sizes.map((size) => ({
        a: randomUUID(),
        o: OWNER,
        s: size,
        b: 'b',
        k: `k/${randomUUID()}`,
        m: 'text/plain',
        f: 'new.txt',
        c: null,
        x: new Date(Date.now() + 3600_000).toISOString(),
        md: { album: 'a' },
        g: [['group:g', 'read']],
      }));
      const { rows } = await db.query(
        `SELECT req_ord, req_created AS created, req_committed_bytes::text AS committed_bytes, req_committed_assets::text AS committed_assets,
                req_pending_bytes::text AS pending_bytes, req_pending_assets::text AS pending_assets,
                req_override_max_bytes::text AS override_max_bytes, req_override_max_assets::text AS override_max_assets,
                req_has_override AS has_override
           FROM create_pending_assets($1::jsonb, $2, $3) ORDER BY req_ord`,
        [JSON.stringify(requests), defaults.maxBytes, defaults.maxAssets],
      );
      const inserted = await db.query(
        `SELECT a.asset_id::text, (SELECT count(*)::int FROM asset_metadata m WHERE m.asset_id = a.asset_id) AS md,
                (SELECT count(*)::int FROM asset_acl g WHERE g.asset_id = a.asset_id) AS g
           FROM media_assets a WHERE a.asset_id = ANY ($1::uuid[])`,
        [requests.map((r) => r.a)],
      );
      const created = new Map(inserted.rows.map((r: { asset_id: string; md: number; g: number }) => [r.asset_id, r]));
      return rows.map((r: Record<string, string | boolean | null>, i: number) => ({ row: r, inserted: created.get(requests[i].a) }));
    });
  }

  it('gives the same verdict on the same figures', async () => {
    await fc.assert(
      fc.asyncProperty(quotaCase, async (c) => {
        const pendingBytes = c.livePending.reduce((a, b) => a + b, 0);
        const usage = {
          bytes: c.committedBytes + pendingBytes,
          assets: c.committedAssets + c.livePending.length,
          pendingBytes,
          pendingAssets: c.livePending.length,
        };
        const neededBytes = usage.bytes + c.sizeBytes;
        const neededAssets = usage.assets + 1;
        const defaults = { maxBytes: resolve(c.defaults.maxBytes, neededBytes), maxAssets: resolve(c.defaults.maxAssets, neededAssets) };
        const override: QuotaOverride | null = c.override && {
          maxBytes: c.override.maxBytes === null ? null : resolve(c.override.maxBytes, neededBytes),
          maxAssets: c.override.maxAssets === null ? null : resolve(c.override.maxAssets, neededAssets),
        };

        let allowed = true;
        try {
          checkQuota(OWNER, effectiveLimits(defaults, override), usage, c.sizeBytes);
        } catch {
          allowed = false;
        }
        const row = await runSql(c, defaults, override);

        expect(row.created).toBe(allowed);
        // The figures the function decided on are the ones QuotaService hands to checkQuota to explain a refusal.
        expect(Number(row.committed_bytes) + Number(row.pending_bytes)).toBe(usage.bytes);
        expect(Number(row.committed_assets) + Number(row.pending_assets)).toBe(usage.assets);
        expect(Number(row.pending_bytes)).toBe(usage.pendingBytes);
        expect(Number(row.pending_assets)).toBe(usage.pendingAssets);
        expect(row.has_override).toBe(override !== null);
        if (override) {
          expect(row.override_max_bytes === null ? null : Number(row.override_max_bytes)).toBe(override.maxBytes);
          expect(row.override_max_assets === null ? null : Number(row.override_max_assets)).toBe(override.maxAssets);
        }
      }),
      { numRuns: RUNS },
    );
  });
  it('decides a batch in arrival order as many single requests would (create_pending_assets)', async () => {
    await fc.assert(
      fc.asyncProperty(quotaCase, async (c) => {
        const sizes = [c.sizeBytes, ...c.more];
        const pendingBytes = c.livePending.reduce((a, b) => a + b, 0);
        const usage = {
          bytes: c.committedBytes + pendingBytes,
          assets: c.committedAssets + c.livePending.length,
          pendingBytes,
          pendingAssets: c.livePending.length,
        };
        const defaults = {
          maxBytes: resolve(c.defaults.maxBytes, usage.bytes + c.sizeBytes),
          maxAssets: resolve(c.defaults.maxAssets, usage.assets + 1),
        };
        const override: QuotaOverride | null = c.override && {
          maxBytes: c.override.maxBytes === null ? null : resolve(c.override.maxBytes, usage.bytes + c.sizeBytes),
          maxAssets: c.override.maxAssets === null ? null : resolve(c.override.maxAssets, usage.assets + 1),
        };
        const answers = await runBatchSql(c, sizes, defaults, override);
        expect(answers).toHaveLength(sizes.length);
        sizes.forEach((size, i) => {
          let allowed = true;
          try {
            checkQuota(OWNER, effectiveLimits(defaults, override), usage, size);
          } catch {
            allowed = false;
          }
          const { row, inserted } = answers[i];
          expect(row.created).toBe(allowed);
          expect(Number(row.committed_bytes) + Number(row.pending_bytes)).toBe(usage.bytes);
          expect(Number(row.committed_assets) + Number(row.pending_assets)).toBe(usage.assets);
          expect(Number(row.pending_bytes)).toBe(usage.pendingBytes);
          expect(row.has_override).toBe(override !== null);
          // Accepted: the row, its metadata and its grant exist; refused: nothing was written for it.
          expect(inserted ? [inserted.md, inserted.g] : null).toEqual(allowed ? [1, 1] : null);
          if (allowed) {
            usage.bytes += size;
            usage.assets += 1;
            usage.pendingBytes += size;
            usage.pendingAssets += 1;
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});
