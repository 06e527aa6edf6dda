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
  /** Filename or path contains this text (case- and accent-insensitive: search_fold); ranked by trigram similarity. */
  q?: string;
}

export interface ListCursor {
  /** created_at in microseconds since the epoch (exact: Postgres keeps microseconds, JS dates do not). */
  us: string;
  id: string;
  /** With `q`: the row's similarity (float4 as text), the first sort key. */
  rank?: string;
}

export interface Viewer {
  userId: string;
  /** The ACL principals the caller speaks for (`*`, `user:<id>`, `group:<id>` …). */
  principals: string[];
}

export interface ListQuery {
  text: string;
  values: unknown[];
}

/** The columns of a listed row, named as MediaAsset's properties, plus the row's cursor position. */
const COLUMNS = `asset_id AS "assetId", owner_id AS "ownerId", bucket, object_key AS "objectKey", mime_type AS "mimeType",
  container, path, size_bytes AS "sizeBytes", checksum_sha256 AS "checksumSha256", status, created_at AS "createdAt", updated_at AS "updatedAt",
  filename, declared_checksum_sha256 AS "declaredChecksumSha256", detected_mime_type AS "detectedMimeType",
  failure_reason AS "failureReason", stored_object_sha256 AS "storedObjectSha256", upload_expires_at AS "uploadExpiresAt",
  processing_started_at AS "processingStartedAt", ready_at AS "readyAt", deleted_at AS "deletedAt",
  storage_class AS "storageClass", (extract(epoch FROM created_at) * 1000000)::bigint::text AS "cursorUs"`;

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
  return Buffer.from(JSON.stringify({ t: c.us, i: c.id, r: c.rank, f: filtersFingerprint(filters) })).toString('base64url');
}

/** 400 for anything that is not a cursor this service issued for the same filters. */
export function decodeCursor(raw: string, filters: AssetListFilters): ListCursor {
  let parsed: { t?: unknown; i?: unknown; r?: unknown; f?: unknown } | undefined;
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
    (filters.q !== undefined && (typeof parsed.r !== 'string' || !/^\d(\.\d{1,12})?(e-\d{1,2})?$/.test(parsed.r)))
  ) {
    throw Errors.validation('cursor is not valid; pass the nextCursor of a previous page unchanged', { field: 'cursor' });
  }
  if (parsed.f !== filtersFingerprint(filters)) {
    throw Errors.validation('cursor belongs to a list with other filters; keep the filters of the first page when paging', {
      field: 'cursor',
    });
  }
  return { us: parsed.t, id: parsed.i, ...(filters.q !== undefined ? { rank: parsed.r as string } : {}) };
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
  // Name search: the trigram index (media_assets_name_trgm_idx) finds the rows; most similar first.
  let rank: string | null = null;
  if (filters.q !== undefined) {
    const q = p(filters.q);
    common.push(`search_fold(a.filename || ' ' || a.path) LIKE '%' || search_fold(${p(escapeLike(filters.q))}) || '%'`);
    rank = `similarity(search_fold(a.filename || ' ' || a.path), search_fold(${q}))`;
  }
  if (after) {
    const at = `'epoch'::timestamptz + ${p(after.us)}::bigint * interval '1 microsecond'`;
    common.push(
      rank
        ? `(${rank}, a.created_at, a.asset_id) < (${p(after.rank ?? '0')}::real, ${at}, ${p(after.id)}::uuid)`
        : `(a.created_at, a.asset_id) < (${at}, ${p(after.id)}::uuid)`,
    );
  }

  const me = p(viewer.userId);
  const n = p(limit + 1);
  const order = `ORDER BY ${rank ? `${rank} DESC, ` : ''}a.created_at DESC, a.asset_id DESC LIMIT ${n}`;
  const columns = rank ? `${COLUMNS}, ${rank}::text AS "rank"` : COLUMNS;
  const branches: string[] = [];
  if (filters.owner === undefined || filters.owner === viewer.userId) {
    branches.push(`(SELECT ${columns} FROM media_assets a WHERE a.owner_id = ${me}::bigint AND ${common.join(' AND ')} ${order})`);
  }
  if (filters.owner !== viewer.userId) {
    const owner = filters.owner !== undefined ? ` AND a.owner_id = ${p(filters.owner)}::bigint` : '';
    branches.push(
      `(SELECT ${columns} FROM media_assets a WHERE a.owner_id <> ${me}::bigint${owner} AND ${common.join(' AND ')}` +
        ` AND EXISTS (SELECT 1 FROM asset_acl g WHERE g.asset_id = a.asset_id AND g.permission = 'read' AND g.principal = ANY(${p(viewer.principals)}::varchar[]))` +
        ` ${order})`,
    );
  }
  const text =
    branches.length === 1
      ? branches[0].slice(1, -1)
      : `SELECT * FROM (${branches.join(' UNION ALL ')}) v ORDER BY ${rank ? 'v."rank"::real DESC, ' : ''}v."createdAt" DESC, v."assetId" DESC LIMIT ${n}`;
  return { text, values };
}
