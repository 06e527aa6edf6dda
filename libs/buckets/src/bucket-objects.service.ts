import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { ASSET_ACCESS_POLICY, AssetAccess, AssetAccessPolicy, AssetRequirement, Errors, Principal, principalKeys } from '@app/core';
import { AssetQueryService, DownloadLinkDto } from '@app/assets';
import { checkPath, checkPrefix, DEFAULT_BUCKET, prefixSuccessor } from './bucket-rules';
import { BucketsRepository, ObjectRow } from './buckets.repository';
import { BucketsService } from './buckets.service';
import { DEFAULT_OBJECT_LIST_LIMIT, ListObjectsQueryDto, ObjectItemDto, ObjectPageDto } from './bucket-objects.dto';

interface Cursor {
  /** The last key handed out: a path, or a common prefix (then everything under it is skipped). */
  k: string;
  p: boolean;
  f: string;
}

/** Addressing assets by (bucket, path): the download redirect and the ListObjectsV2-like listing. */
@Injectable()
export class BucketObjectsService {
  constructor(
    private readonly repo: BucketsRepository,
    private readonly buckets: BucketsService,
    private readonly assets: AssetQueryService,
    @Inject(ASSET_ACCESS_POLICY) private readonly policy: AssetAccessPolicy,
  ) {}

  /**
   * The access to the live asset at (bucket, path), decided by the one access policy (asset ACL + bucket grants).
   * Same answers as the id routes: 401 for an anonymous caller without access, 404 otherwise (existence hidden).
   */
  async accessByPath(bucket: string, rawPath: string, principal: Principal | null, need: AssetRequirement): Promise<AssetAccess> {
    const path = checkPath(rawPath, 'path');
    const found = await this.repo.findLiveByPath(bucket, path);
    if (!found) {
      if (!principal) throw Errors.unauthenticated('Missing Authorization header; send "Authorization: Bearer <token>"');
      throw Errors.notFound(`No asset at "${path}" in bucket "${bucket}" that you may read`);
    }
    return this.policy.authorize(found.assetId, principal, need);
  }

  async downloadLink(bucket: string, path: string, principal: Principal | null): Promise<DownloadLinkDto> {
    return this.assets.downloadLink(await this.accessByPath(bucket, path, principal, 'read'));
  }

  /** One page of the bucket as ListObjectsV2 shows it: items and folders in path (byte) order, with a stable cursor. */
  async list(bucket: string, q: ListObjectsQueryDto, principal: Principal | null): Promise<ObjectPageDto> {
    const { permissions } = await this.buckets.access(bucket, principal).catch((e: unknown) => {
      if (!principal) throw Errors.unauthenticated('Missing Authorization header; send "Authorization: Bearer <token>"');
      throw e;
    });
    const prefix = checkPrefix(q.prefix);
    const delimiter = q.delimiter ?? null;
    const text = q.q?.trim() || undefined;
    const limit = q.limit ?? DEFAULT_OBJECT_LIST_LIMIT;
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([bucket, prefix, delimiter, text ?? null]))
      .digest('base64url')
      .slice(0, 12);
    const cursor = q.cursor ? decodeCursor(q.cursor, fingerprint) : undefined;
    const viewer = {
      userId: principal?.userId ?? null,
      principals: principalKeys(principal),
      // Bucket-level read shows everything in it; in the default bucket (and otherwise) only what the caller may read.
      everything: bucket !== DEFAULT_BUCKET && (permissions.includes('read') || !!principal?.isAdmin),
    };
    let position: { from?: string; after?: string } = cursor ? (cursor.p ? { from: prefixSuccessor(cursor.k) } : { after: cursor.k }) : {};
    const items: ObjectItemDto[] = [];
    const prefixes: string[] = [];
    let lastKey: { k: string; p: boolean } | null = null;
    let more = false;
    outer: for (;;) {
      const rows = await this.repo.listObjects({ container: bucket, prefix, ...position, q: text, limit: limit + 1, viewer });
      for (const row of rows) {
        if (items.length + prefixes.length === limit) {
          more = true;
          break outer;
        }
        const rest = row.path.slice(prefix.length);
        const cut = delimiter ? rest.indexOf(delimiter) : -1;
        if (cut >= 0) {
          const folder = prefix + rest.slice(0, cut + delimiter!.length);
          prefixes.push(folder);
          lastKey = { k: folder, p: true };
          // Skip everything under the folder: continue from the first path after it.
          position = { from: prefixSuccessor(folder) };
          continue outer;
        }
        items.push(toItem(row));
        lastKey = { k: row.path, p: false };
        position = { after: row.path };
      }
      if (rows.length < limit + 1) break;
    }
    return {
      bucket,
      prefix,
      delimiter,
      items,
      prefixes,
      nextCursor: more && lastKey ? encodeCursor({ ...lastKey, f: fingerprint }) : null,
    };
  }
}

function toItem(r: ObjectRow): ObjectItemDto {
  return {
    assetId: r.assetId,
    path: r.path,
    ownerId: r.ownerId,
    filename: r.filename,
    mimeType: r.mimeType,
    sizeBytes: Number(r.sizeBytes),
    status: r.status,
    checksumSha256: r.checksumSha256,
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(raw: string, fingerprint: string): Cursor {
  let c: Partial<Cursor> | undefined;
  try {
    c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    c = undefined;
  }
  if (!c || typeof c.k !== 'string' || typeof c.p !== 'boolean' || typeof c.f !== 'string' || !c.k) {
    throw Errors.validation('cursor is not valid; pass the nextCursor of a previous page unchanged', { field: 'cursor' });
  }
  if (c.f !== fingerprint) {
    throw Errors.validation('cursor belongs to a listing with another prefix, delimiter or q; keep them when paging', { field: 'cursor' });
  }
  return c as Cursor;
}
