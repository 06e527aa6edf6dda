import { Module } from '@nestjs/common';
import { AssetCacheModule } from '@app/asset-cache';
import { AssetsModule } from '@app/assets';
import { AssetMovesController } from './asset-moves.controller';
import { AssetMovesService } from './asset-moves.service';
import { BucketObjectsController } from './bucket-objects.controller';
import { BucketObjectsService } from './bucket-objects.service';
import { BucketsController } from './buckets.controller';
import { BucketsRepository } from './buckets.repository';
import { BucketsService } from './buckets.service';

/**
 * User-facing buckets and paths: bucket lifecycle, settings and grants, addressing assets by (bucket, path),
 * move/copy/batch delete. Bucket grants join every access decision through AclPolicy.addInheritedGrants.
 */
@Module({
  imports: [AssetsModule, AssetCacheModule],
  controllers: [BucketsController, BucketObjectsController, AssetMovesController],
  providers: [BucketsRepository, BucketsService, BucketObjectsService, AssetMovesService],
  exports: [BucketsService],
})
export class BucketsModule {}
