import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MetadataModule } from '@app/metadata';
import { AssetsController } from './assets.controller';
import { AssetsMetrics } from './assets.metrics';
import { AssetsRepository } from './assets.repository';
import { AssetsService } from './assets.service';
import { AssetStatusWaiter } from './asset-status.waiter';
import { AssetLifecycleRepository } from './asset-lifecycle.repository';
import { AssetLifecycleService } from './asset-lifecycle.service';
import { ObjectAccessTracker } from './object-access.tracker';
import { MediaAsset } from './media-asset.entity';
import { StoredObject } from './stored-object.entity';

@Module({
  imports: [TypeOrmModule.forFeature([MediaAsset, StoredObject]), MetadataModule],
  controllers: [AssetsController],
  providers: [AssetsRepository, AssetsService, AssetStatusWaiter, AssetsMetrics, ObjectAccessTracker, AssetLifecycleRepository, AssetLifecycleService],
  exports: [AssetsService, AssetLifecycleService],
})
export class AssetsModule {}
