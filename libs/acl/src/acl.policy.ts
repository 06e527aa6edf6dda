import { Injectable } from '@nestjs/common';
import { AssetAccess, AssetAccessPolicy, AssetRequirement, Principal } from '@app/core';
import { AssetQueryService, AssetStatus } from '@app/assets';
import { AclEntry, decideAccess } from './acl-rules';
import { AclService } from './acl.service';

/** The one access policy behind every asset route (AssetAccessGuard), reading asset and ACL through the cache. */
@Injectable()
export class AclPolicy implements AssetAccessPolicy {
  constructor(
    private readonly assets: AssetQueryService,
    private readonly acl: AclService,
  ) {}

  async authorize(assetId: string, principal: Principal | null, need: AssetRequirement): Promise<AssetAccess> {
    // One cache round trip for both; on a miss each part comes from Postgres.
    const { record, acl } = await this.assets.getRecordWith<{ acl: AclEntry[] }>(assetId, { acl: () => this.acl.loadEntries(assetId) });
    const facts = record ? { assetId, ownerId: record.ownerId, deleted: record.status === AssetStatus.Deleted } : null;
    return decideAccess(facts, acl ?? [], principal, need, assetId);
  }
}
