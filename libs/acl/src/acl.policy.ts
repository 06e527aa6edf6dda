import { Injectable } from '@nestjs/common';
import { AssetAccess, AssetAccessPolicy, AssetRequirement, Principal } from '@app/core';
import { AssetQueryService, AssetStatus } from '@app/assets';
import { AclEntry, decideAccess } from './acl-rules';

/**
 * The one access policy behind every asset route (AssetAccessGuard), reading asset and ACL through the cache; what it
 * read from Postgres on a miss is handed to the route's own read of the asset (one query for both).
 */
@Injectable()
export class AclPolicy implements AssetAccessPolicy {
  constructor(private readonly assets: AssetQueryService) {}

  async authorize(assetId: string, principal: Principal | null, need: AssetRequirement): Promise<AssetAccess> {
    // One cache round trip for both; on a miss both (and the metadata, for the view) come from one query.
    const { record, acl } = await this.assets.getRecordWith(assetId, ['acl'], { handOff: true });
    const facts = record ? { assetId, ownerId: record.ownerId, deleted: record.status === AssetStatus.Deleted } : null;
    return decideAccess(facts, (acl ?? []) as AclEntry[], principal, need, assetId);
  }
}
