export * from './assets.module';
export { AssetsService } from './assets.service';
export type { AssetView, InspectionResult, DownloadLink } from './assets.service';
export { AssetStatus, MediaAsset } from './media-asset.entity';
export type { NewAsset } from './assets.repository';
