import { Injectable } from '@nestjs/common';
import { AssetAccess, assertAssetAccess, Errors } from '@app/core';
import { AssetCache } from '@app/asset-cache';
import { AssetQueryService } from '@app/assets';
import { CdnService } from '@app/cdn';
import { EntityManager } from 'typeorm';
import { AclEntry, checkAclEntry, checkAclList, MAX_ACL_ENTRIES } from './acl-rules';
import { AclRepository } from './acl.repository';
import { AclViewDto } from './acl-view.dto';

/**
 * Grants on assets. Every change invalidates the asset's cache entry after it commits and before it returns,
 * so the next request (on any replica) is decided on the new list.
 */
@Injectable()
export class AclService {
  constructor(
    private readonly repo: AclRepository,
    private readonly assets: AssetQueryService,
    private readonly cache: AssetCache,
    private readonly cdn: CdnService,
  ) {}

  /** When a change withdraws public (`*`) read, the CDN's copies of the asset are invalidated after it commits. */
  private async invalidateIfPublicReadWithdrawn(m: EntityManager, assetId: string, before: AclEntry[], after: AclEntry[]): Promise<void> {
    const publicRead = (list: AclEntry[]) => list.some((e) => e.principal === '*' && e.permission === 'read');
    if (!publicRead(before) || publicRead(after)) return;
    const key = await this.assets.readyObjectKey(m, assetId);
    if (key) await this.cdn.requestInvalidation(m, [key]);
  }

  /** The asset's grants through the hot cache. */
  async entries(assetId: string): Promise<AclEntry[]> {
    return (await this.cache.get(assetId, 'acl', () => this.loadEntries(assetId))) ?? [];
  }

  /** The asset's grants from Postgres (the cache's loader). */
  loadEntries(assetId: string): Promise<AclEntry[]> {
    return this.repo.list(assetId);
  }

  async view(access: AssetAccess): Promise<AclViewDto> {
    assertAssetAccess(access, 'owner');
    return { assetId: access.assetId, ownerId: access.ownerId, entries: await this.repo.list(access.assetId) };
  }

  /** Replaces every grant with `input`. */
  async replace(access: AssetAccess, input: { principal?: unknown; permission?: unknown }[]): Promise<AclViewDto> {
    assertAssetAccess(access, 'owner');
    const entries = checkAclList(input, 'entries');
    await this.repo.transaction(async (m) => {
      await this.repo.lock(m, access.assetId);
      const before = await this.repo.list(access.assetId, m);
      await this.repo.deleteAll(m, access.assetId);
      await this.repo.insert(m, access.assetId, entries);
      await this.invalidateIfPublicReadWithdrawn(m, access.assetId, before, entries);
    });
    await this.cache.invalidate(access.assetId);
    return this.view(access);
  }

  /** Adds one grant (idempotent). */
  async grant(access: AssetAccess, input: { principal?: unknown; permission?: unknown }): Promise<AclViewDto> {
    assertAssetAccess(access, 'owner');
    const entry = checkAclEntry(input, 'body');
    await this.repo.transaction(async (m) => {
      await this.repo.lock(m, access.assetId);
      const current = await this.repo.list(access.assetId, m);
      const exists = current.some((e) => e.principal === entry.principal && e.permission === entry.permission);
      if (!exists && current.length >= MAX_ACL_ENTRIES) {
        throw Errors.validation(`Asset ${access.assetId} already has ${current.length} grants, the most allowed; revoke one first`, {
          limit: MAX_ACL_ENTRIES,
        });
      }
      await this.repo.insert(m, access.assetId, [entry]);
    });
    await this.cache.invalidate(access.assetId);
    return this.view(access);
  }

  /** Removes one grant; 404 when there was no such grant. */
  async revoke(access: AssetAccess, principal: string, permission: string): Promise<void> {
    assertAssetAccess(access, 'owner');
    const entry = checkAclEntry({ principal, permission }, 'path');
    const existed = await this.repo.transaction(async (m) => {
      await this.repo.lock(m, access.assetId);
      const before = await this.repo.list(access.assetId, m);
      if (!(await this.repo.delete(access.assetId, entry, m))) return false;
      const after = before.filter((e) => !(e.principal === entry.principal && e.permission === entry.permission));
      await this.invalidateIfPublicReadWithdrawn(m, access.assetId, before, after);
      return true;
    });
    if (!existed) throw Errors.aclEntryNotFound(access.assetId, entry.principal, entry.permission);
    await this.cache.invalidate(access.assetId);
  }
}
