import { Module } from '@nestjs/common';
import { AssetCacheModule } from '@app/asset-cache';
import { AssetsModule } from '@app/assets';
import { AssetMovesController } from './asset-moves.controller';
import { BucketAccessCache } from './bucket-access-cache';
import { AssetMovesService } from './asset-moves.service';
import { BucketObjectsController } from './bucket-objects.controller';
import { BucketObjectsService } from './bucket-objects.service';
import { BucketsController } from './buckets.controller';
import { BucketsRepository } from './buckets.repository';
import { BucketsService } from './buckets.service';

/**
 * User-facing buckets and paths: bucket lifecycle, settings and grants, addressing assets by (bucket, path),
 * move/copy/batch delete. Bucket grants join every access decision through AclPolicy.addInheritedGrants, read
 * through BucketAccessCache (process memory, invalidated on every replica through Redis pub/sub).
 */
@Module({
  imports: [AssetsModule, AssetCacheModule],
  controllers: [BucketsController, BucketObjectsController, AssetMovesController],
  providers: [BucketsRepository, BucketAccessCache, BucketsService, BucketObjectsService, AssetMovesService],
  exports: [BucketsService],
})
export class BucketsModule {}
