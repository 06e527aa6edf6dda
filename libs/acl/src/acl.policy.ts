import { Injectable } from '@nestjs/common';
import { AssetAccess, AssetAccessPolicy, AssetRequirement, Principal } from '@app/core';
import { AssetQueryService, AssetStatus, MediaAsset } from '@app/assets';
import { AclEntry, decideAccess } from './acl-rules';
import { AclService } from './acl.service';

/**
 * Grants that apply to an asset from outside its own ACL (e.g. its bucket's grants), read fresh on every
 * decision so that a withdrawn grant stops access at once. Registered by the lib that owns them.
 */
export interface InheritedGrantSource {
  grantsFor(record: MediaAsset): Promise<AclEntry[]>;
}

/** The one access policy behind every asset route (AssetAccessGuard), reading asset and ACL through the cache. */
@Injectable()
export class AclPolicy implements AssetAccessPolicy {
  private readonly sources: InheritedGrantSource[] = [];

  constructor(
    private readonly assets: AssetQueryService,
    private readonly acl: AclService,
  ) {}

  /** Adds grants every decision also considers (on top of the asset's own ACL). */
  addInheritedGrants(source: InheritedGrantSource): void {
    this.sources.push(source);
  }

  async authorize(assetId: string, principal: Principal | null, need: AssetRequirement): Promise<AssetAccess> {
    // One cache round trip for both; on a miss each part comes from Postgres.
    const { record, acl } = await this.assets.getRecordWith<{ acl: AclEntry[] }>(assetId, { acl: () => this.acl.loadEntries(assetId) });
    const facts = record ? { assetId, ownerId: record.ownerId, deleted: record.status === AssetStatus.Deleted } : null;
    let entries = acl ?? [];
    if (record && record.status !== AssetStatus.Deleted && this.sources.length) {
      const inherited = await Promise.all(this.sources.map((s) => s.grantsFor(record)));
      entries = entries.concat(...inherited);
    }
    return decideAccess(facts, entries, principal, need, assetId);
  }
}
