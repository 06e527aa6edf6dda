import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AssetCacheModule } from '@app/asset-cache';
import { MetadataModule } from '@app/metadata';
import { AssetsController } from './assets.controller';
import { AssetsMetrics } from './assets.metrics';
import { AssetsRepository } from './assets.repository';
import { AssetEventsService } from './asset-events.service';
import { AssetQueryService } from './asset-query.service';
import { AssetStateService } from './asset-state.service';
import { AssetStatusWaiter } from './asset-status.waiter';
import { AssetLifecycleRepository } from './asset-lifecycle.repository';
import { AssetLifecycleService } from './asset-lifecycle.service';
import { ObjectAccessTracker } from './object-access.tracker';
import { DedupSettleHandler } from './dedup-settle.handler';
import { ObjectDeletionHandler } from './object-deletion.handler';
import { MediaAsset } from './media-asset.entity';
import { StoredObject } from './stored-object.entity';
import { QuotaController } from './quota/quota.controller';
import { QuotaRepository } from './quota/quota.repository';
import { QuotaService } from './quota/quota.service';

@Module({
  imports: [TypeOrmModule.forFeature([MediaAsset, StoredObject]), MetadataModule, AssetCacheModule],
  controllers: [AssetsController, QuotaController],
  providers: [
    AssetsRepository,
    AssetQueryService,
    AssetStateService,
    AssetEventsService,
    ObjectDeletionHandler,
    DedupSettleHandler,
    AssetStatusWaiter,
    AssetsMetrics,
    ObjectAccessTracker,
    AssetLifecycleRepository,
    AssetLifecycleService,
    QuotaRepository,
    QuotaService,
  ],
  exports: [AssetQueryService, AssetStateService, AssetEventsService, AssetLifecycleService, QuotaService],
})
export class AssetsModule {}
