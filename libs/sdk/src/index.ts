/**
 * @app/sdk: the TypeScript client of the media storage service. Standalone: it depends only on openapi-fetch and
 * Node's built-ins (no Nest, no other lib), so it can be copied or published on its own.
 */
export { MediaClient, UPLOAD_STRATEGIES } from './media-client';
export type {
  Asset,
  AssetPage,
  AclView,
  AclEntry,
  ApiKeyInfo,
  CreatedApiKey,
  CreateApiKeyRequest,
  ListQuery,
  MediaClientOptions,
  UploadOptions,
  UploadResult,
  DownloadResult,
} from './media-client';
export { BucketHandle } from './bucket-handle';
export type { Bucket, ObjectPage, ObjectListQuery, BatchDeleteResult } from './bucket-handle';
export { MediaApiError } from './media-api-error';
export type { RenderOptions } from './render-options';
export type { Problem, SdkErrorCode } from './media-api-error';
export type { RetryOptions } from './retry';
export type { TransferProgress } from './transfer';
export type { UploadStrategy, UploadContext, UploadOutcome, UploadGrant } from './upload/upload-strategy';
export { guessContentType } from './upload/upload-source';
export { MultipartStrategy, DEFAULT_PART_CONCURRENCY } from './upload/multipart.strategy';
export { ResumeStore, defaultStateDir } from './upload/resume-store';
export type { ResumeRecord } from './upload/resume-store';
export type { paths, components, operations } from './generated/openapi';
