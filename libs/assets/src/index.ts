export * from './assets.module';
export { AssetQueryService } from './asset-query.service';
export { AssetStateService } from './asset-state.service';
export type { InspectionResult, FailedObjectDisposition } from './asset-state.service';
export { AssetEventsService } from './asset-events.service';
export { ListAssetsQueryDto } from './list-assets.dto';
export { buildListQuery, parseTagFilter, MAX_LIST_LIMIT, DEFAULT_LIST_LIMIT, MAX_PRINCIPAL_BRANCHES } from './asset-list.query';
export type { AssetListFilters, Viewer, ListCursor } from './asset-list.query';
export { AssetStatus, MediaAsset } from './media-asset.entity';
export { ASSET_EVENT_TYPES } from './asset-events';
export type { AssetEvent, AssetEventType, AssetEventSubscriber } from './asset-events';
export { AssetLifecycleService } from './asset-lifecycle.service';
export type { StoredObjectRef } from './asset-lifecycle.service';
export { accessDay } from './object-access.tracker';
export {
  AssetViewDto,
  AssetPageDto,
  DownloadLinkDto,
  StoredObjectViewDto,
  StoredObjectRegionDto,
  UploadAssemblyDto,
  UPLOAD_ASSEMBLY_STATES,
} from './asset-view.dto';
export type { UploadAssemblyState } from './asset-view.dto';
export { redirectResponse } from './redirect-response';
export { QuotaService } from './quota/quota.service';
export { QuotaLimitsDto, QuotaUsageDto, QuotaViewDto } from './quota/quota-view.dto';
export { checkQuota, effectiveLimits } from './quota/quota-rules';
export type { QuotaOverride } from './quota/quota-rules';
export type { NewAsset, NewPendingAsset, PendingInsertOutcome } from './quota/quota.repository';
