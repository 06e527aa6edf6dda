import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ASSET_ACCESS_POLICY } from '@app/core';
import { AssetsModule } from '@app/assets';
import { AssetCacheModule } from '@app/asset-cache';
import { AssetAcl } from './asset-acl.entity';
import { AclController } from './acl.controller';
import { AclPolicy } from './acl.policy';
import { AclRepository } from './acl.repository';
import { AclService } from './acl.service';

/**
 * Access control. Global because every lib with asset routes uses the one access policy through core's
 * AssetAccessGuard (`@RequireAssetAccess`), which injects ASSET_ACCESS_POLICY.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AssetAcl]), AssetsModule, AssetCacheModule],
  controllers: [AclController],
  providers: [AclRepository, AclService, AclPolicy, { provide: ASSET_ACCESS_POLICY, useExisting: AclPolicy }],
  exports: [AclService, AclPolicy, ASSET_ACCESS_POLICY],
})
export class AclModule {}
