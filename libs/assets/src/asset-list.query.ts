import { createHash } from 'node:crypto';
import { Errors } from '@app/core';
import { MAX_METADATA_VALUE_BYTES, METADATA_KEY_PATTERN } from '@app/metadata';
import { AssetStatus } from './media-asset.entity';

/**
 * GET /media as SQL. Pure (no I/O) so that it is unit-tested and the list benchmark can EXPLAIN exactly what
 * the service runs.
 *
 * Visibility is two disjoint branches, each an index-ordered keyset scan with its own LIMIT:
 *   own:    owner_id = caller                                   (index on owner_id, created_at, asset_id …)
 *   shared: owner_id <> caller and a `read` grant to one of the caller's principals (user, groups, `*`)
 * merged and cut to the page. Order is newest first: (created_at DESC, asset_id DESC); the cursor is the last
 * row's (created_at in microseconds, asset_id), so rows inserted later sort before page one and never shift
 * later pages.
 */

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 1000;
export const MAX_TAG_FILTERS = 10;
export const LISTABLE_STATUSES = Object.values(AssetStatus).filter((s) => s !== AssetStatus.Deleted);
/** Tag values up to this many bytes are matched through asset_metadata_short_value_idx (index-only). */
export const SHORT_TAG_VALUE_BYTES = 512;

/** One `tag=key:value` filter: every way of splitting it at a ':' that leaves a valid key (keys may contain ':'). */
export type TagFilter = { key: string; value: string }[];

export interface AssetListFilters {
  owner?: string;
  statuses?: AssetStatus[];
  mimeTypePrefix?: string;
  tags?: TagFilter[];
  /** Inclusive lower bound (ISO 8601). */
  createdFrom?: string;
  /** Exclusive upper bound (ISO 8601). */
  createdTo?: string;
  /** Filename or path contains this text (case- and accent-insensitive: search_fold); ranked by trigram similarity (nearest first). */
  q?: string;
}

export interface ListCursor {
  /** created_at in microseconds since the epoch (exact: Postgres keeps microseconds, JS dates do not). */
  us: string;
  id: string;
  /** With `q`: the row's trigram distance to it (1 - similarity, float4 as text), the first sort key. */
  dist?: string;
}

export interface Viewer {
  userId: string;
  /** The ACL principals the caller speaks for (`*`, `user:<id>`, `group:<id>` …). */
  principals: string[];
}

export interface ListQuery {
  text: string;
  values: unknown[];
  /** With `q`: `text` fetches each branch's `nearest` rows only; see rankedPage, and `exact` when it says null. */
  ranked?: {
    nearest: number;
    exact: { text: string; values: unknown[] };
    /**
     * The rows at exactly `distance` (the page's last distance when rankedPage says null), newest first, `limit + 1`
     * at most: each branch walks its rows in created_at order keeping those at that distance, instead of ranking
     * every match (see tiedPage).
     */
    ties: (distance: string) => { text: string; values: unknown[] };
  };
}

/** The columns of a listed row, named as MediaAsset's properties, plus the row's cursor position. */
const COLUMNS = `a.asset_id AS "assetId", a.owner_id AS "ownerId", a.bucket, a.object_key AS "objectKey", a.mime_type AS "mimeType",
  a.container, a.path, a.size_bytes AS "sizeBytes", a.checksum_sha256 AS "checksumSha256", a.status, a.created_at AS "createdAt",
  a.updated_at AS "updatedAt", a.filename, a.declared_checksum_sha256 AS "declaredChecksumSha256", a.detected_mime_type AS "detectedMimeType",
  a.failure_reason AS "failureReason", a.stored_object_sha256 AS "storedObjectSha256", a.upload_expires_at AS "uploadExpiresAt",
  a.processing_started_at AS "processingStartedAt", a.ready_at AS "readyAt", a.deleted_at AS "deletedAt",
  a.storage_class AS "storageClass", (extract(epoch FROM a.created_at) * 1000000)::bigint::text AS "cursorUs"`;

/**
 * A ranked search reads the caller's grants one principal at a time (one KNN scan of asset_acl_search_idx each)
 * when it speaks for at most this many principals; beyond, one scan of the matches filtered by the grants.
 */
export const MAX_PRINCIPAL_BRANCHES = 64;

/** `tag=key:value` → its candidate (key, value) splits; 400 when no split gives a valid key. */
export function parseTagFilter(raw: string): TagFilter {
  const out: TagFilter = [];
  for (let i = raw.indexOf(':'); i > 0; i = raw.indexOf(':', i + 1)) {
    const key = raw.slice(0, i);
    if (!METADATA_KEY_PATTERN.test(key)) break; // a longer prefix cannot become valid again
    const value = raw.slice(i + 1);
    if (Buffer.byteLength(value, 'utf8') <= MAX_METADATA_VALUE_BYTES) out.push({ key, value });
  }
  if (!out.length) {
    throw Errors.validation(`tag ${JSON.stringify(raw.slice(0, 100))} must be key:value with a metadata key of [a-z0-9_.:-]{1,64}`, {
      field: 'tag',
    });
  }
  return out;
}

export function encodeCursor(c: ListCursor, filters: AssetListFilters): string {
  return Buffer.from(JSON.stringify({ t: c.us, i: c.id, d: c.dist, f: filtersFingerprint(filters) })).toString('base64url');
}

/** 400 for anything that is not a cursor this service issued for the same filters. */
export function decodeCursor(raw: string, filters: AssetListFilters): ListCursor {
  let parsed: { t?: unknown; i?: unknown; d?: unknown; f?: unknown } | undefined;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (
    !parsed ||
    typeof parsed.t !== 'string' ||
    !/^-?\d{1,19}$/.test(parsed.t) ||
    typeof parsed.i !== 'string' ||
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(parsed.i) ||
    (filters.q !== undefined && (typeof parsed.d !== 'string' || !/^\d(\.\d{1,12})?(e-\d{1,2})?$/.test(parsed.d)))
  ) {
    throw Errors.validation('cursor is not valid; pass the nextCursor of a previous page unchanged', { field: 'cursor' });
  }
  if (parsed.f !== filtersFingerprint(filters)) {
    throw Errors.validation('cursor belongs to a list with other filters; keep the filters of the first page when paging', {
      field: 'cursor',
    });
  }
  return { us: parsed.t, id: parsed.i, ...(filters.q !== undefined ? { dist: parsed.d as string } : {}) };
}

function filtersFingerprint(f: AssetListFilters): string {
  const norm = {
    o: f.owner ?? null,
    s: f.statuses ? [...f.statuses].sort() : null,
    m: f.mimeTypePrefix ?? null,
    t: (f.tags ?? []).map((t) => t.map((c) => `${c.key}\u0000${c.value}`).join('\u0001')).sort(),
    a: f.createdFrom ?? null,
    b: f.createdTo ?? null,
    q: f.q ?? null,
  };
  return createHash('sha256').update(JSON.stringify(norm)).digest('base64url').slice(0, 12);
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The page query: `limit + 1` rows (the extra one tells whether there is a next page). */
export function buildListQuery(viewer: Viewer, filters: AssetListFilters, limit: number, after?: ListCursor): ListQuery {
  const values: unknown[] = [];
  const p = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };

  const common: string[] = [`a.status <> 'deleted'`];
  // One status as an equality, so that (owner_id, status, created_at, asset_id) serves it in order.
  if (filters.statuses?.length === 1) common.push(`a.status = ${p(filters.statuses[0])}::media_asset_status`);
  else if (filters.statuses?.length) common.push(`a.status = ANY(${p(filters.statuses)}::media_asset_status[])`);
  if (filters.mimeTypePrefix) {
    const prefix = filters.mimeTypePrefix;
    const slash = prefix.indexOf('/');
    // With the major type fixed ("image/…"), an expression index serves the filter in created_at order. For exactly
    // "major/" that equality is the whole filter (every stored type has a '/'); a LIKE beside it would only make
    // the planner underestimate the rows.
    if (slash > 0) common.push(`split_part(a.mime_type, '/', 1) = ${p(prefix.slice(0, slash))}`);
    if (slash < 0 || slash < prefix.length - 1) common.push(`a.mime_type LIKE ${p(`${escapeLike(prefix)}%`)}`);
  }
  if (filters.createdFrom) common.push(`a.created_at >= ${p(filters.createdFrom)}::timestamptz`);
  if (filters.createdTo) common.push(`a.created_at < ${p(filters.createdTo)}::timestamptz`);
  for (const tag of filters.tags ?? []) {
    const alternatives = tag.map((c) => {
      const v = p(c.value);
      return Buffer.byteLength(c.value, 'utf8') <= SHORT_TAG_VALUE_BYTES
        ? `(m.key = ${p(c.key)} AND m.value = ${v} AND octet_length(m.value) <= ${SHORT_TAG_VALUE_BYTES})`
        : `(m.key = ${p(c.key)} AND md5(m.value) = md5(${v}) AND m.value = ${v})`;
    });
    common.push(`EXISTS (SELECT 1 FROM asset_metadata m WHERE m.asset_id = a.asset_id AND (${alternatives.join(' OR ')}))`);
  }
  // Name search over the stored search_text (search_fold(filename || ' ' || path), kept by a trigger): the
  // contains-filter and the trigram distance (1 - similarity) both served by the GiST trigram indexes, which hand
  // rows out nearest first (KNN), so a page stops after `limit` visible matches instead of ranking every match.
  let dist: string | null = null;
  let grantDist = '';
  let grantLike = '';
  if (filters.q !== undefined) {
    const q = p(filters.q);
    const pattern = `'%' || search_fold(${p(escapeLike(filters.q))}) || '%'`;
    common.push(`a.search_text LIKE ${pattern}`);
    dist = `(a.search_text <-> search_fold(${q}))`;
    grantDist = `(g.search_text <-> search_fold(${q}))`;
    grantLike = `g.search_text LIKE ${pattern}`;
  }
  if (after) {
    const at = `'epoch'::timestamptz + ${p(after.us)}::bigint * interval '1 microsecond'`;
    if (dist) {
      const d = `${p(after.dist ?? '0')}::real`;
      common.push(`(${dist} > ${d} OR (${dist} = ${d} AND (a.created_at, a.asset_id) < (${at}, ${p(after.id)}::uuid)))`);
    } else {
      common.push(`(a.created_at, a.asset_id) < (${at}, ${p(after.id)}::uuid)`);
    }
  }

  const me = p(viewer.userId);
  const n = p(limit + 1);
  // Bound only when a branch uses it (an unused parameter has no type: Postgres refuses the statement).
  const principals = filters.owner === viewer.userId ? '' : p(viewer.principals);
  const granted = `EXISTS (SELECT 1 FROM asset_acl g WHERE g.asset_id = a.asset_id AND g.permission = 'read' AND g.principal = ANY(${principals}::varchar[]))`;
  const owner = filters.owner !== undefined && filters.owner !== viewer.userId ? ` AND a.owner_id = ${p(filters.owner)}::bigint` : '';
  /**
   * The visibility branches (disjoint, but for `byGrant`), each ordered by `order` and limited. With `byGrant` (ranked
   * search), the shared branch is one per principal of the caller: its `read` grants nearest first straight from
   * asset_acl_search_idx (GiST over the grant's principal and its copy of the asset's search_text), joined to the
   * asset by primary key — instead of walking every match in the table for the few the caller may read. An asset
   * granted to several of the caller's principals then comes once per principal (rankedPage keeps the first).
   */
  const branches = (columns: string, order: string, byGrant?: { principals: string[]; columns: string; order: string; like: string }) => {
    const where = common.join(' AND ');
    const out: string[] = [];
    if (filters.owner === undefined || filters.owner === viewer.userId) {
      out.push(`(SELECT ${columns} FROM media_assets a WHERE a.owner_id = ${me}::bigint AND ${where} ${order})`);
    }
    if (filters.owner !== viewer.userId) {
      if (byGrant) {
        for (const principal of byGrant.principals) {
          out.push(
            `(SELECT ${byGrant.columns} FROM asset_acl g JOIN media_assets a ON a.asset_id = g.asset_id` +
              ` WHERE g.principal = ${principal} AND g.permission = 'read' AND ${byGrant.like}` +
              ` AND a.owner_id <> ${me}::bigint${owner} AND ${where} ${byGrant.order})`,
          );
        }
      } else {
        out.push(`(SELECT ${columns} FROM media_assets a WHERE a.owner_id <> ${me}::bigint${owner} AND ${where} AND ${granted} ${order})`);
      }
      // Readable through its bucket (the bucket's owner, a bucket grant of read, or a public bucket) and not already in
      // the shared branch: one bounded, index-ordered scan per such bucket (the default bucket gives nothing).
      // `container <> 'default'` is stated so that the indexes partial on it (media_assets_container_created_idx, with q
      // media_assets_search_container_idx) serve each bucket's scan: the planner cannot prove it from container =
      // vb.name, and without it walked every live asset newest first (a public bucket of old assets: 0.5 s per list).
      // Its row estimate (near 0 when no asset is in a bucket) once turned the shared branch to a parallel plan
      // (16 → 38 ms): the pool runs without parallel workers (DATABASE_SESSION_OPTIONS).
      out.push(
        `(SELECT x.* FROM buckets vb CROSS JOIN LATERAL` +
          ` (SELECT ${columns} FROM media_assets a WHERE a.container = vb.name AND a.container <> 'default' AND a.owner_id <> ${me}::bigint${owner} AND ${where}` +
          ` AND NOT ${granted} ${order}) x` +
          ` WHERE vb.name <> 'default' AND (vb.owner_id = ${me}::bigint OR vb.public OR EXISTS (SELECT 1 FROM bucket_acl bg` +
          ` WHERE bg.bucket_name = vb.name AND bg.permission = 'read' AND bg.principal = ANY(${principals}::varchar[]))))`,
      );
    }
    return out;
  };
  const union = (parts: string[]) => (parts.length === 1 ? parts[0].slice(1, -1) : parts.join(' UNION ALL '));

  if (!dist) {
    const parts = branches(COLUMNS, `ORDER BY a.created_at DESC, a.asset_id DESC LIMIT ${n}`);
    const text =
      parts.length === 1 ? union(parts) : `SELECT * FROM (${union(parts)}) v ORDER BY v."createdAt" DESC, v."assetId" DESC LIMIT ${n}`;
    return { text, values };
  }
  // Ranked: the page is ordered by (distance, created_at DESC, asset_id DESC). A GiST index hands rows out by
  // distance alone (KNN), so each branch takes only its `k` nearest (k > the page: room for ties) and the page is cut
  // from those (see rankedPage). That is exact when the k nearest reach past the page's last distance (or are all
  // there is): every row tied with the page's last one was seen. Only when they do not (more ties than room) does
  // `exact` rank every match (of the caller's own, of each principal's grants, of each readable bucket).
  const k = 2 * (limit + 1) + 20;
  // The principals' parameters before the snapshot: both statements use them.
  const grantPrincipals =
    filters.owner !== viewer.userId && new Set(viewer.principals).size <= MAX_PRINCIPAL_BRANCHES
      ? [...new Set(viewer.principals)].map(p)
      : null;
  const exactValues = [...values]; // without k: an unused parameter has no type, Postgres would refuse the statement
  const kp = p(k);
  const columns = `${COLUMNS}, ${dist} AS "distance"`;
  const order = `ORDER BY v."distance", v."createdAt" DESC, v."assetId" DESC`;
  const byGrant = (grantOrder: string) =>
    grantPrincipals
      ? { principals: grantPrincipals, columns: `${COLUMNS}, ${grantDist} AS "distance"`, order: grantOrder, like: grantLike }
      : undefined;
  const nearest = branches(columns, `ORDER BY ${dist} LIMIT ${kp}`, byGrant(`ORDER BY ${grantDist} LIMIT ${kp}`));
  const exactOrder = (d: string) => `ORDER BY ${d}, a.created_at DESC, a.asset_id DESC LIMIT ${n}`;
  const exact = branches(columns, exactOrder(dist), byGrant(exactOrder(grantDist)));
  // Each per-principal branch holds its own first `n`: every asset of the page is among them; duplicates dropped.
  const exactRows = grantPrincipals
    ? `SELECT DISTINCT ON (u."assetId") * FROM (${exact.join(' UNION ALL ')}) u`
    : exact.join(' UNION ALL ');
  // The tie walk: the same parameters as `exact` plus the distance (`exact` uses every one of them, and so does this).
  const tieParam = `$${exactValues.length + 1}::real`;
  common.push(`${dist} = ${tieParam}`);
  const newest = `ORDER BY a.created_at DESC, a.asset_id DESC LIMIT ${n}`;
  const tie = branches(columns, newest, byGrant(newest));
  common.pop();
  const tieRows = grantPrincipals ? `SELECT DISTINCT ON (u."assetId") * FROM (${tie.join(' UNION ALL ')}) u` : tie.join(' UNION ALL ');
  const tieText = `SELECT * FROM (${tieRows}) v ORDER BY v."createdAt" DESC, v."assetId" DESC LIMIT ${n}`;
  return {
    // greatest(…): k, with the page size bound too (every parameter must appear, or it has no type).
    text: `SELECT * FROM (${nearest.join(' UNION ALL ')}) v ${order} LIMIT greatest(${kp}, ${n}::int)`,
    values,
    ranked: {
      nearest: k,
      exact: { text: `SELECT * FROM (${exactRows}) v ${order} LIMIT ${n}`, values: exactValues },
      ties: (distance: string) => ({ text: tieText, values: [...exactValues, distance] }),
    },
  };
}

/**
 * The page (`limit + 1` rows) from the rows of a ranked query's `text` (the `nearest` rows, in page order), or null
 * when they cannot tell it (more rows tied at the page's last distance than were fetched): then run `exact`.
 *
 * An asset readable through several of the caller's principals comes once per principal; the page keeps it once.
 * Every branch (and per-principal branch) that returned all its `nearest` rows returned every row nearer than the
 * last of the merged rows, so the page is exact when its last row is nearer than that (or nothing was cut).
 */
export function rankedPage<T extends { distance?: number | string; assetId?: string }>(
  rows: T[],
  limit: number,
  nearest: number,
): T[] | null {
  const page: T[] = [];
  const seen = new Set<string | undefined>();
  for (const row of rows) {
    if (row.assetId !== undefined) {
      if (seen.has(row.assetId)) continue;
      seen.add(row.assetId);
    }
    page.push(row);
    if (page.length === limit + 1) break;
  }
  if (rows.length < nearest) return page;
  const last = page[limit];
  if (last && Number(rows[nearest - 1].distance) > Number(last.distance)) return page;
  return null;
}

/**
 * When rankedPage says null: the distance of the page's last row (the `limit + 1`-th distinct row of the nearest
 * rows), which more rows tie at than were fetched.
 */
export function tieDistance<T extends { distance?: number | string; assetId?: string }>(rows: T[], limit: number): string | null {
  const seen = new Set<string | undefined>();
  for (const row of rows) {
    seen.add(row.assetId);
    if (seen.size === limit + 1) return row.distance === undefined ? null : String(row.distance);
  }
  return null;
}

/**
 * The page from the nearest rows and the rows at the page's last distance (`ties`, newest first). Every visible row
 * nearer than that distance is among the nearest rows: a branch that returned all its `nearest` rows returned every
 * row nearer than its last, and had a branch `nearest` rows nearer than the page's last, the merged rows' last would
 * be nearer too (rankedPage would not have said null).
 */
export function tiedPage<T extends { distance?: number | string; assetId?: string }>(
  rows: T[],
  ties: T[],
  distance: string,
  limit: number,
): T[] {
  const page: T[] = [];
  const seen = new Set<string | undefined>();
  const d = Number(distance);
  for (const row of [...rows.filter((r) => Number(r.distance) < d), ...ties]) {
    if (seen.has(row.assetId)) continue;
    seen.add(row.assetId);
    page.push(row);
    if (page.length === limit + 1) break;
  }
  return page;
}
