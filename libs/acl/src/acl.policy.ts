import { Injectable } from '@nestjs/common';
import { AssetAccess, AssetAccessPolicy, AssetRequirement, Principal } from '@app/core';
import { AssetQueryService, AssetStatus, MediaAsset } from '@app/assets';
import { AclEntry, decideAccess } from './acl-rules';

/**
 * Grants that apply to an asset from outside its own ACL (e.g. its bucket's grants), asked for on every decision;
 * the source must answer fresh (a withdrawn grant stops access at once), e.g. from a cache it invalidates on every
 * replica when the grants change. Registered by the lib that owns them.
 */
export interface InheritedGrantSource {
  grantsFor(record: MediaAsset): Promise<AclEntry[]>;
}

/**
 * The one access policy behind every asset route (AssetAccessGuard), reading asset and ACL through the cache; what it
 * read from Postgres on a miss is handed to the route's own read of the asset (one query for both).
 */
@Injectable()
export class AclPolicy implements AssetAccessPolicy {
  private readonly sources: InheritedGrantSource[] = [];

  constructor(private readonly assets: AssetQueryService) {}

  /** Adds grants every decision also considers (on top of the asset's own ACL). */
  addInheritedGrants(source: InheritedGrantSource): void {
    this.sources.push(source);
  }

  async authorize(assetId: string, principal: Principal | null, need: AssetRequirement): Promise<AssetAccess> {
    // One cache round trip for both; on a miss both (and the metadata, for the view) come from one query.
    const { record, acl } = await this.assets.getRecordWith(assetId, ['acl'], { handOff: true });
    const facts = record ? { assetId, ownerId: record.ownerId, deleted: record.status === AssetStatus.Deleted } : null;
    let entries = (acl ?? []) as AclEntry[];
    // The owner holds every permission whatever the grants say: only others need the inherited ones (a query each).
    const isOwner = !!principal && principal.userId === record?.ownerId;
    if (record && record.status !== AssetStatus.Deleted && !isOwner && this.sources.length) {
      const inherited = await Promise.all(this.sources.map((s) => s.grantsFor(record)));
      entries = entries.concat(...inherited);
    }
    return decideAccess(facts, entries, principal, need, assetId);
  }
}
