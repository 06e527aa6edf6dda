import type { AppConfig } from './app-config';

/**
 * The configuration by domain. Every setting belongs to exactly one section (config-sections.spec.ts checks it),
 * and a service injects the sections it reads (`@Inject(UPLOAD_CONFIG) upload: UploadConfig`) instead of the
 * whole configuration. The variables, defaults and validation stay in environment-variables.ts / loadConfig.
 */
export const CONFIG_SECTION_KEYS = {
  /** The process: HTTP listener, workers, shutdown, the outbox poller, the controllable clock. */
  server: [
    'NODE_ENV',
    'PORT',
    'HOST',
    'TRUSTED_PROXIES',
    'trustedProxies',
    'PUBLIC_BASE_URL',
    'publicBaseUrl',
    'API_CORS_ORIGINS',
    'apiCorsOrigins',
    'WEB_CONCURRENCY',
    'JSON_BODY_LIMIT_BYTES',
    'WORKER_ENABLED',
    'SHUTDOWN_DRAIN_DELAY_MS',
    'SHUTDOWN_TIMEOUT_MS',
    'OUTBOX_POLL_INTERVAL_MS',
    'CLOCK_CONTROL',
  ],
  /** Logs, metrics and the queue dashboard. */
  observability: [
    'LOG_LEVEL',
    'METRICS_ENABLED',
    'METRICS_TOKEN',
    'METRICS_PORT',
    'METRICS_HOST',
    'METRICS_COLLECT_TIMEOUT_MS',
    'BULL_BOARD_ENABLED',
  ],
  database: ['DATABASE_URL', 'DATABASE_AUTO_CREATE', 'DATABASE_MIGRATE_ON_START', 'DATABASE_POOL_SIZE', 'DATABASE_STATEMENT_TIMEOUT_MS'],
  redis: ['REDIS_URL', 'REDIS_KEY_PREFIX'],
  /** Who callers are and how often they may ask. */
  security: [
    'JWT_SECRET',
    'jwtSecret',
    'jwtSecretIsDevelopmentFallback',
    'JWT_MAX_LIFETIME_SECONDS',
    'JWT_ISSUER',
    'JWT_AUDIENCE',
    'RATE_LIMIT_UPLOAD_URLS_PER_MINUTE',
    'API_KEY_RATE_LIMIT_PER_MINUTE',
    'API_KEY_LAST_USED_FLUSH_SECONDS',
  ],
  /** Where bytes live: drivers, regions and their health, signed URLs, the bucket CORS rule. */
  storage: [
    'STORAGE_DRIVER',
    'STORAGE_BUCKET',
    'LOCAL_STORAGE_ROOT',
    'STORAGE_SIGNING_SECRET',
    'storageSigningSecret',
    'PUBLIC_STORAGE_URL',
    'publicStorageUrl',
    'S3_ENDPOINT',
    'S3_PUBLIC_ENDPOINT',
    'S3_REGION',
    'S3_FORCE_PATH_STYLE',
    'S3_ACCESS_KEY_ID',
    'S3_SECRET_ACCESS_KEY',
    'S3_REQUEST_TIMEOUT_MS',
    'CORS_ALLOWED_ORIGINS',
    'corsAllowedOrigins',
    'S3_APPLY_CORS',
    'STORAGE_REGIONS',
    'storageRegions',
    'STORAGE_REGION_NAME',
    'STORAGE_PRIMARY_REGION',
    'STORAGE_HEALTH_CHECK_INTERVAL_MS',
    'STORAGE_HEALTH_CHECK_TIMEOUT_MS',
    'STORAGE_CIRCUIT_FAILURE_THRESHOLD',
    'DOWNLOAD_URL_TTL_SECONDS',
  ],
  replication: [
    'REPLICATION_ENABLED',
    'REPLICATION_CATCHUP_INTERVAL_MS',
    'REPLICATION_ATTEMPTS',
    'REPLICATION_BACKOFF_MS',
    'REPLICATION_CONCURRENCY',
  ],
  cdn: [
    'CDN_PROVIDER',
    'CDN_BASE_URL',
    'CDN_SIGNED_URL_TTL_SECONDS',
    'CLOUDFRONT_DISTRIBUTION_ID',
    'CLOUDFRONT_KEY_PAIR_ID',
    'CLOUDFRONT_PRIVATE_KEY',
    'cloudfrontPrivateKey',
    'CLOUDFRONT_SIGNING_HASH',
    'CLOUDFRONT_ENDPOINT',
    'CLOUDFRONT_ACCESS_KEY_ID',
    'CLOUDFRONT_SECRET_ACCESS_KEY',
    'CDN_INVALIDATION_BATCH_MS',
    'CDN_INVALIDATION_ATTEMPTS',
    'CDN_INVALIDATION_BACKOFF_MS',
  ],
  /** Upload grants (single PUT, multipart, tus) and the per-owner quotas they count against. */
  upload: [
    'UPLOAD_URL_TTL_SECONDS',
    'UPLOAD_BODY_IDLE_TIMEOUT_SECONDS',
    'UPLOAD_EXPIRY_GRACE_SECONDS',
    'MAX_UPLOADS_IN_FLIGHT_PER_OWNER',
    'MAX_UPLOAD_BYTES',
    'MULTIPART_THRESHOLD_BYTES',
    'MAX_MULTIPART_UPLOAD_BYTES',
    'MULTIPART_PART_SIZE_BYTES',
    'MULTIPART_MIN_PART_SIZE_BYTES',
    'MULTIPART_SESSION_TTL_SECONDS',
    'QUOTA_MAX_BYTES_PER_OWNER',
    'QUOTA_MAX_ASSETS_PER_OWNER',
    'BUCKET_CREATION',
    'TUS_STAGING_DIR',
    'tusStagingDir',
    'TUS_UPLOAD_EXPIRY_SECONDS',
    'tusUploadExpirySeconds',
  ],
  /** The processing pipeline: retries, timeouts, the reconciliation sweep, scanning, derived media. */
  processing: [
    'PROCESSING_CONCURRENCY',
    'PROCESSING_ATTEMPTS',
    'PROCESSING_BACKOFF_MS',
    'PROCESSING_TIMEOUT_MS',
    'PROCESSING_BACKOFF_MAX_MS',
    'PROCESSING_LOCK_DURATION_MS',
    'RECONCILE_INTERVAL_MS',
    'RECONCILE_PENDING_AFTER_MS',
    'RECONCILE_PROCESSING_AFTER_MS',
    'SCANNER',
    'CLAMD_HOST',
    'CLAMD_PORT',
    'CLAMD_SOCKET',
    'CLAMD_CONNECT_TIMEOUT_MS',
    'CLAMD_TIMEOUT_MS',
    'QUARANTINE_ACTION',
    'IMAGE_MAX_PIXELS',
    'DERIVED_MEDIA_ENABLED',
    'DERIVED_MEDIA_EAGER',
    'FFPROBE_PATH',
    'FFPROBE_TIMEOUT_MS',
  ],
  /** Completion by storage event: the webhook receiver, the SQS consumer, local uploads that complete themselves. */
  storageEvents: [
    'STORAGE_EVENTS_WEBHOOK_TOKEN',
    'STORAGE_EVENTS_SQS_QUEUE_URL',
    'STORAGE_EVENTS_SQS_REGION',
    'STORAGE_EVENTS_SQS_ENDPOINT',
    'STORAGE_EVENTS_SQS_ACCESS_KEY_ID',
    'STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY',
    'STORAGE_EVENTS_SQS_WAIT_SECONDS',
    'STORAGE_EVENTS_SQS_VISIBILITY_TIMEOUT_SECONDS',
    'STORAGE_EVENTS_SQS_CONCURRENCY',
    'STORAGE_EVENTS_SQS_TIMEOUT_MS',
    'LOCAL_PUT_COMPLETES',
  ],
  webhooks: ['WEBHOOK_TIMEOUT_MS', 'WEBHOOK_ALLOWED_HOSTS', 'WEBHOOK_ALLOW_PRIVATE_TARGETS', 'WEBHOOK_ATTEMPTS', 'WEBHOOK_BACKOFF_MS'],
  /** The asset record cache (Redis, and the in-process layer in front of it). */
  cache: ['CACHE_TTL_SECONDS', 'CACHE_LOCAL_TTL_MS', 'CACHE_LOCAL_MAX_ENTRIES'],
  /** Scheduled lifecycle jobs and their rules. */
  lifecycle: [
    'LIFECYCLE_EXPIRE_PENDING_SCHEDULE',
    'LIFECYCLE_RECONCILE_SCHEDULE',
    'LIFECYCLE_INTEGRITY_SCAN_SCHEDULE',
    'LIFECYCLE_TIERING_SCHEDULE',
    'LIFECYCLE_RUN_TIMEOUT_MS',
    'PENDING_UPLOAD_TTL_SECONDS',
    'ORPHAN_GRACE_SECONDS',
    'INTEGRITY_SCAN_BATCH_SIZE',
    'TIERING_COLD_AFTER_DAYS',
    'TIERING_ARCHIVE_AFTER_DAYS',
  ],
  /** On-the-fly image transformations: what callers may ask, limits, the render queue, the rendition cache. */
  transform: [
    'TRANSFORMS',
    'TRANSFORMS_PUBLIC',
    'TRANSFORM_PRESETS',
    'transformPresets',
    'TRANSFORM_MAX_DIMENSION',
    'TRANSFORM_MAX_INPUT_PIXELS',
    'TRANSFORM_MAX_INPUT_BYTES',
    'TRANSFORM_CONCURRENCY',
    'transformConcurrency',
    'TRANSFORM_MEMORY_BUDGET_MB',
    'TRANSFORM_QUEUE_SIZE',
    'TRANSFORM_QUEUE_WAIT_MS',
    'TRANSFORM_TIMEOUT_MS',
    'TRANSFORM_RATE_LIMIT_PER_MINUTE',
    'TRANSFORM_CACHE_TTL_DAYS',
    'FFMPEG_PATH',
  ],
} as const satisfies Record<string, readonly (keyof AppConfig)[]>;

export type ConfigSectionName = keyof typeof CONFIG_SECTION_KEYS;
type Section<N extends ConfigSectionName> = Readonly<Pick<AppConfig, (typeof CONFIG_SECTION_KEYS)[N][number]>>;

export type ServerConfig = Section<'server'>;
export type ObservabilityConfig = Section<'observability'>;
export type DatabaseConfig = Section<'database'>;
export type RedisConfig = Section<'redis'>;
export type SecurityConfig = Section<'security'>;
export type StorageConfig = Section<'storage'>;
export type ReplicationConfig = Section<'replication'>;
export type CdnConfig = Section<'cdn'>;
export type UploadConfig = Section<'upload'>;
export type ProcessingConfig = Section<'processing'>;
export type WebhooksConfig = Section<'webhooks'>;
export type StorageEventsConfig = Section<'storageEvents'>;
export type CacheConfig = Section<'cache'>;
export type LifecycleConfig = Section<'lifecycle'>;
export type TransformConfig = Section<'transform'>;

/** Injection tokens, one per section. */
export const SERVER_CONFIG = Symbol('ServerConfig');
export const OBSERVABILITY_CONFIG = Symbol('ObservabilityConfig');
export const DATABASE_CONFIG = Symbol('DatabaseConfig');
export const REDIS_CONFIG = Symbol('RedisConfig');
export const SECURITY_CONFIG = Symbol('SecurityConfig');
export const STORAGE_CONFIG = Symbol('StorageConfig');
export const REPLICATION_CONFIG = Symbol('ReplicationConfig');
export const CDN_CONFIG = Symbol('CdnConfig');
export const UPLOAD_CONFIG = Symbol('UploadConfig');
export const PROCESSING_CONFIG = Symbol('ProcessingConfig');
export const WEBHOOKS_CONFIG = Symbol('WebhooksConfig');
export const STORAGE_EVENTS_CONFIG = Symbol('StorageEventsConfig');
export const CACHE_CONFIG = Symbol('CacheConfig');
export const LIFECYCLE_CONFIG = Symbol('LifecycleConfig');
export const TRANSFORM_CONFIG = Symbol('TransformConfig');

export const CONFIG_SECTION_TOKENS: Record<ConfigSectionName, symbol> = {
  server: SERVER_CONFIG,
  observability: OBSERVABILITY_CONFIG,
  database: DATABASE_CONFIG,
  redis: REDIS_CONFIG,
  security: SECURITY_CONFIG,
  storage: STORAGE_CONFIG,
  replication: REPLICATION_CONFIG,
  cdn: CDN_CONFIG,
  upload: UPLOAD_CONFIG,
  processing: PROCESSING_CONFIG,
  webhooks: WEBHOOKS_CONFIG,
  storageEvents: STORAGE_EVENTS_CONFIG,
  cache: CACHE_CONFIG,
  lifecycle: LIFECYCLE_CONFIG,
  transform: TRANSFORM_CONFIG,
};

/** One section of `config`: a frozen object with that section's settings only. */
export function configSection<N extends ConfigSectionName>(config: AppConfig, name: N): Section<N> {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_SECTION_KEYS[name]) out[key] = config[key];
  return Object.freeze(out) as Section<N>;
}
