import { Entity, PrimaryColumn } from 'typeorm';
import type { AssetPermission } from '@app/core';

/** asset_acl: one (principal, permission) grant per row. */
@Entity({ name: 'asset_acl' })
export class AssetAcl {
  @PrimaryColumn({ name: 'asset_id', type: 'uuid' })
  assetId: string;

  /** `user:<id>`, `group:<id>` or `*`. */
  @PrimaryColumn({ type: 'varchar', length: 256 })
  principal: string;

  @PrimaryColumn({ type: 'enum', enum: ['read', 'write', 'delete'], enumName: 'asset_permission' })
  permission: AssetPermission;
}
