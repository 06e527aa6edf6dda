import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, MinLength } from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (value === undefined || value === '') return undefined;
  const v = String(value).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};

/** Comma-separated host[:port] entries: names, IPv4, IPv6 in brackets (with or without a port) or bare IPv6. */
const HOST_ENTRY = String.raw`(\[[0-9A-Fa-f:.]+\](:\d{1,5})?|[0-9A-Fa-f]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9._-]+(:\d{1,5})?)`;
const ALLOWED_HOSTS = new RegExp(String.raw`^\s*(${HOST_ENTRY}\s*)?(,\s*(${HOST_ENTRY}\s*)?)*$`);

/** A cron expression (minute hour day-of-month month day-of-week, optionally seconds first) or `off`. */
const CRON_OR_OFF = /^(off|(\S+\s+){4,5}\S+)$/;

/**
 * Every environment variable the service reads, with its default. The README's configuration table
 * is this class. Values are validated at boot: a bad one stops the service with a message naming it.
 */
export class EnvironmentVariables {
  /** `development`, `production` or `test`; production requires JWT_SECRET (at least 32 characters). */
  @IsIn(['development', 'production', 'test'])
  NODE_ENV = 'development';

  /** HTTP port. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  /** Interface to listen on. */
  @IsString()
  HOST = '0.0.0.0';

  /**
   * Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed (comma-separated IPs or CIDRs, e.g.
   * `10.0.0.0/8,127.0.0.1`). Unset: none, so the client address in logs and per-IP rate limits is the socket's peer.
   */
  @IsOptional()
  @IsString()
  TRUSTED_PROXIES?: string;

  /** Base URL clients use to reach this service; signed local-storage URLs are built on it. */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  PUBLIC_BASE_URL?: string;

  /**
   * Browser origins (other than the service's own) allowed to call the API, `/tus/` and the local driver's `/storage/`
   * URLs (comma-separated, e.g. https://app.example.com,http://localhost:5173; `*` = any origin). Answers carry CORS
   * headers for these origins only, never Access-Control-Allow-Credentials (callers send tokens in the Authorization or
   * X-Api-Key header, not cookies). Default: the origin of PUBLIC_BASE_URL.
   */
  @IsOptional()
  @IsString()
  API_CORS_ORIGINS?: string;

  /**
   * Worker processes serving requests (node:cluster, sharing PORT); 1 = this process serves them itself. Each
   * worker is a full replica (its own database pool of DATABASE_POOL_SIZE, Redis clients, queue workers).
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  WEB_CONCURRENCY = 1;

  /**
   * Largest JSON (or form) request body in bytes; larger ones are answered 413 before they are read. Two routes
   * accept their largest valid body when that is bigger: POST /media/upload-url (about 0.55 MB: 64 metadata values
   * of 4 KiB) and POST /media/{id}/complete (about 2.9 MB: 10,000 parts).
   */
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  JSON_BODY_LIMIT_BYTES = 64 * 1024;

  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** Serve Prometheus metrics at `GET /metrics` (no user token needed; see METRICS_TOKEN). */
  @Transform(toBool)
  @IsBoolean()
  METRICS_ENABLED = true;

  /**
   * When set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>` (at least 16 characters). Unset: open (keep it
   * off the public ingress). With NODE_ENV=production and metrics enabled, set this or METRICS_PORT (else the service refuses to start).
   */
  @IsOptional()
  @IsString()
  @MinLength(16)
  METRICS_TOKEN?: string;

  /** Serve `GET /metrics` on its own listener on this port (bound to METRICS_HOST) and not on PORT. Unset: on PORT. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  METRICS_PORT?: number;

  /** Interface of the METRICS_PORT listener (`0.0.0.0` to let a scraper in another pod or host reach it). */
  @IsString()
  @MinLength(1)
  METRICS_HOST = '127.0.0.1';

  /** Bound on each scrape-time collection that does I/O (queue depths from Redis, stored bytes from the database). */
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(30000)
  METRICS_COLLECT_TIMEOUT_MS = 1000;

  /** Serve the Bull Board queue dashboard at `/admin/queues` (admin role required). */
  @Transform(toBool)
  @IsBoolean()
  BULL_BOARD_ENABLED = true;

  /** PostgreSQL connection URL. */
  @IsUrl({ require_tld: false, protocols: ['postgres', 'postgresql'], require_protocol: true })
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/media';

  /** Create the database named in DATABASE_URL when it does not exist. */
  @Transform(toBool)
  @IsBoolean()
  DATABASE_AUTO_CREATE = true;

  /** Run pending migrations at start-up (otherwise run `npm run migrate`). */
  @Transform(toBool)
  @IsBoolean()
  DATABASE_MIGRATE_ON_START = true;

  /** Database connections per process. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(500)
  DATABASE_POOL_SIZE = 10;

  /** Server-side statement timeout. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  DATABASE_STATEMENT_TIMEOUT_MS = 15000;

  /** Redis URL; the `/N` database index is honoured. */
  @IsUrl({ require_tld: false, protocols: ['redis', 'rediss'], require_protocol: true })
  REDIS_URL = 'redis://127.0.0.1:6379/0';

  /** Prefix for every Redis key (Bull queues too), so several deployments can share one Redis. */
  @IsString()
  @MinLength(1)
  REDIS_KEY_PREFIX = 'media';

  /** HS256 key for bearer tokens. Unset outside production: a development fallback, warned loudly at start-up. */
  @IsOptional()
  @IsString()
  JWT_SECRET?: string;

  /**
   * Longest lifetime of a bearer token accepted: `exp` − `iat` (or `exp` − now when `iat` is absent). Tokens must carry
   * `exp`; `npm run token` signs for this long by default.
   */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(366 * 24 * 3600)
  JWT_MAX_LIFETIME_SECONDS = 24 * 3600;

  /** When set, bearer tokens must carry exactly this `iss` claim (and `npm run token` puts it in). */
  @IsOptional()
  @IsString()
  @MinLength(1)
  JWT_ISSUER?: string;

  /** When set, a bearer token's `aud` claim (a string, or an array of them) must include this value (and `npm run token` puts it in). */
  @IsOptional()
  @IsString()
  @MinLength(1)
  JWT_AUDIENCE?: string;

  /** `local` (disk; this service serves the signed URLs) or `s3` (any S3-compatible store). */
  @IsIn(['local', 's3'])
  STORAGE_DRIVER: 'local' | 's3' = 'local';

  /** Bucket name: the directory under LOCAL_STORAGE_ROOT, or the S3 bucket. */
  @IsString()
  @MinLength(1)
  STORAGE_BUCKET = 'media';

  /** Directory of the local driver's objects. */
  @IsString()
  @MinLength(1)
  LOCAL_STORAGE_ROOT = './data';

  /** HMAC key for the local driver's signed URLs; defaults to one derived from JWT_SECRET. */
  @IsOptional()
  @IsString()
  @MinLength(32)
  STORAGE_SIGNING_SECRET?: string;

  /**
   * Base URL of the local driver's signed URLs (uploads, part uploads, downloads); default PUBLIC_BASE_URL. Set it to
   * another origin routed to this service (e.g. https://storage.example.com) to keep stored bytes off the API's and
   * upload page's origin: `/storage/` then answers only requests addressed to that host (CORS as for the API: API_CORS_ORIGINS).
   */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  PUBLIC_STORAGE_URL?: string;

  /** S3-compatible endpoint the service talks to (e.g. http://minio:9000); unset = AWS. */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  S3_ENDPOINT?: string;

  /** Endpoint put into signed URLs for clients, when it differs from S3_ENDPOINT (e.g. Docker networks). */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  S3_PUBLIC_ENDPOINT?: string;

  /** S3 region. */
  @IsString()
  S3_REGION = 'us-east-1';

  /** Path-style addressing (MinIO and most S3-compatible stores need true). */
  @Transform(toBool)
  @IsBoolean()
  S3_FORCE_PATH_STYLE = false;

  /** Static S3 credentials (set both or neither); unset = the SDK default chain. */
  @IsOptional()
  @IsString()
  S3_ACCESS_KEY_ID?: string;

  /** Secret for S3_ACCESS_KEY_ID. */
  @IsOptional()
  @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  /** Connect, response and stall timeout of every S3 call. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  S3_REQUEST_TIMEOUT_MS = 30000;

  /**
   * Browser origins allowed to PUT/POST to the S3 buckets directly (comma-separated, e.g. https://app.example.com; `*` = any):
   * the bucket CORS rule (S3_APPLY_CORS). Default: API_CORS_ORIGINS (a page that may call the API may send it the bytes).
   */
  @IsOptional()
  @IsString()
  CORS_ALLOWED_ORIGINS?: string;

  /** Apply the bucket CORS rule with PutBucketCors at start-up (s3 regions); false: log the rule as JSON for the operator. */
  @Transform(toBool)
  @IsBoolean()
  S3_APPLY_CORS = false;

  // ---- storage regions, replication -----------------------------------------------------------------

  /**
   * JSON array of storage regions, e.g. [{"name":"eu","driver":"s3","endpoint":"…","bucket":"media-eu"},{"name":"us",…}];
   * fields a region leaves out inherit STORAGE_DRIVER, STORAGE_BUCKET, LOCAL_STORAGE_ROOT and S3_*. Unset: one region from those.
   */
  @IsOptional()
  @IsString()
  STORAGE_REGIONS?: string;

  /** Name of the single region when STORAGE_REGIONS is unset. */
  @IsString()
  STORAGE_REGION_NAME = 'default';

  /** Region new uploads go to while it is healthy; default: the one marked "primary" in STORAGE_REGIONS, else the first. */
  @IsOptional()
  @IsString()
  STORAGE_PRIMARY_REGION?: string;

  /** How often every region is health-checked (the periodic half of the circuit breaker). */
  @Transform(toInt)
  @IsInt()
  @Min(200)
  STORAGE_HEALTH_CHECK_INTERVAL_MS = 10000;

  /** Bound on one region health check, and on the existence probe that picks a region for a download. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  STORAGE_HEALTH_CHECK_TIMEOUT_MS = 2000;

  /** Consecutive live errors (unreachable, 5xx, timeouts) that mark a region down until a health check passes. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  STORAGE_CIRCUIT_FAILURE_THRESHOLD = 3;

  /** Copy every ready object to every other region; switch off when the provider replicates buckets itself. */
  @Transform(toBool)
  @IsBoolean()
  REPLICATION_ENABLED = true;

  /** How often the catch-up task looks for objects missing from a region (a Bull repeatable job); 0 = never. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  REPLICATION_CATCHUP_INTERVAL_MS = 5 * 60 * 1000;

  /** Attempts of one replication job. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  REPLICATION_ATTEMPTS = 5;

  /** First retry delay of a replication job (exponential). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  REPLICATION_BACKOFF_MS = 5000;

  /** Replication jobs at once per worker. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  REPLICATION_CONCURRENCY = 2;

  // ---- CDN ------------------------------------------------------------------------------------------

  /** `none`: this service is the edge (its signed URLs carry ETag/Cache-Control). `cloudfront`: links are CloudFront URLs. */
  @IsIn(['none', 'cloudfront'])
  CDN_PROVIDER: 'none' | 'cloudfront' = 'none';

  /** Distribution URL, e.g. https://d111111abcdef8.cloudfront.net (its origin is the primary region's bucket). */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  CDN_BASE_URL?: string;

  /** Lifetime of CloudFront signed download/thumbnail URLs. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  CDN_SIGNED_URL_TTL_SECONDS = 300;

  /** Distribution that CreateInvalidation targets (required with cloudfront). */
  @IsOptional()
  @IsString()
  CLOUDFRONT_DISTRIBUTION_ID?: string;

  /** Public key id (key group) CloudFront verifies signed URLs with. */
  @IsOptional()
  @IsString()
  CLOUDFRONT_KEY_PAIR_ID?: string;

  /** RSA private key (PEM; "\n" escapes accepted) that signs CloudFront URLs. Keep it in a Secret. */
  @IsOptional()
  @IsString()
  CLOUDFRONT_PRIVATE_KEY?: string;

  /** Hash of CloudFront URL signatures: SHA1 or SHA256. */
  @IsIn(['SHA1', 'SHA256'])
  CLOUDFRONT_SIGNING_HASH: 'SHA1' | 'SHA256' = 'SHA1';

  /** CloudFront API endpoint override (tests point it at a local server speaking CreateInvalidation). */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  CLOUDFRONT_ENDPOINT?: string;

  /** Credentials for CreateInvalidation; unset = the SDK default chain (env, profile, instance role). */
  @IsOptional()
  @IsString()
  CLOUDFRONT_ACCESS_KEY_ID?: string;

  /** Secret for CLOUDFRONT_ACCESS_KEY_ID. */
  @IsOptional()
  @IsString()
  CLOUDFRONT_SECRET_ACCESS_KEY?: string;

  /** Invalidations requested within this window are sent as one CreateInvalidation. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  CDN_INVALIDATION_BATCH_MS = 5000;

  /** Attempts of one invalidation job. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  CDN_INVALIDATION_ATTEMPTS = 10;

  /** First retry delay of an invalidation job (exponential). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  CDN_INVALIDATION_BACKOFF_MS = 5000;

  // ---- graceful shutdown ----------------------------------------------------------------------------

  /** After SIGTERM, /health/ready fails for this long before the server stops accepting (load balancers catch up). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  SHUTDOWN_DRAIN_DELAY_MS = 0;

  /** Bound on finishing in-flight requests and jobs after SIGTERM; then the process exits anyway. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  SHUTDOWN_TIMEOUT_MS = 25000;

  /** Lifetime of upload URLs, and the largest `expiresInSeconds` a client may ask for. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  UPLOAD_URL_TTL_SECONDS = 900;

  /** An upload body (local PUT/POST, part PUT, tus PATCH) that sends no byte for this long is cut, its temp file removed. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  UPLOAD_BODY_IDLE_TIMEOUT_SECONDS = 30;

  /** An upload body must finish within this long after its URL (or tus upload) expires; a later one is cut, never stored. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600)
  UPLOAD_EXPIRY_GRACE_SECONDS = 60;

  /** Upload bodies streaming at once per owner (local PUT/POST/part PUT, and tus PATCH, each its own budget); more get 429. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10000)
  MAX_UPLOADS_IN_FLIGHT_PER_OWNER = 16;

  /** Lifetime of signed download URLs. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  DOWNLOAD_URL_TTL_SECONDS = 300;

  /** Largest single upload accepted, in bytes (S3 caps a single PUT at 5 GiB). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  MAX_UPLOAD_BYTES = 5 * 1024 ** 3;

  /** Uploads declared larger than this get a multipart session (part URLs) instead of a single PUT; a client may ask for one at any size (`"multipart": true`). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  MULTIPART_THRESHOLD_BYTES = 64 * 1024 ** 2;

  /** Largest multipart upload accepted, in bytes (S3 caps an object at 5 TiB). Single PUTs stay bound by MAX_UPLOAD_BYTES. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  MAX_MULTIPART_UPLOAD_BYTES = 50 * 1024 ** 3;

  /** Preferred part size of a multipart upload; grown automatically so that no upload needs more than 10000 parts. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  MULTIPART_PART_SIZE_BYTES = 16 * 1024 ** 2;

  /** Smallest part (but the last) the store accepts: 5 MiB on S3. Lower it only for stores that take smaller parts (the local driver, test emulators). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  MULTIPART_MIN_PART_SIZE_BYTES = 5 * 1024 ** 2;

  /** Lifetime of a multipart session (its pending asset counts against the quota until then); each part URL lives at most UPLOAD_URL_TTL_SECONDS. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(7 * 24 * 3600)
  MULTIPART_SESSION_TTL_SECONDS = 24 * 3600;

  /** Run the queue workers (processing, webhooks, replication, CDN) in this process; false for API-only replicas. */
  @Transform(toBool)
  @IsBoolean()
  WORKER_ENABLED = true;

  // ---- completion by storage event ------------------------------------------------------------------

  /**
   * Bearer token of the storage event webhook `POST /events/storage` (e.g. MinIO's webhook target `auth_token`; at
   * least 16 characters). Unset: the route answers 404.
   */
  @IsOptional()
  @IsString()
  @MinLength(16)
  STORAGE_EVENTS_WEBHOOK_TOKEN?: string;

  /** SQS queue that receives the bucket's ObjectCreated notifications (direct, through SNS, or EventBridge); worker processes long-poll it. Unset: no SQS consumer. */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  STORAGE_EVENTS_SQS_QUEUE_URL?: string;

  /** Region of the SQS queue; default S3_REGION. */
  @IsOptional()
  @IsString()
  STORAGE_EVENTS_SQS_REGION?: string;

  /** SQS endpoint override (an SQS-compatible server, e.g. ElasticMQ or LocalStack); unset: the AWS endpoint of the region. */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  STORAGE_EVENTS_SQS_ENDPOINT?: string;

  /** Static SQS credentials (set both or neither); default S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY, else the SDK default chain. */
  @IsOptional()
  @IsString()
  STORAGE_EVENTS_SQS_ACCESS_KEY_ID?: string;

  /** Secret for STORAGE_EVENTS_SQS_ACCESS_KEY_ID. */
  @IsOptional()
  @IsString()
  STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY?: string;

  /** Long-poll wait of each ReceiveMessage (0-20 s). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(20)
  STORAGE_EVENTS_SQS_WAIT_SECONDS = 20;

  /** Visibility timeout asked for on each receive: a message whose completion is not committed (and deleted) within it is delivered again. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(43200)
  STORAGE_EVENTS_SQS_VISIBILITY_TIMEOUT_SECONDS = 60;

  /** Messages handled at once per worker process (also the receive batch size, at most 10 per call). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  STORAGE_EVENTS_SQS_CONCURRENCY = 4;

  /** Bound on each SQS call (beyond the long-poll wait) and on handling one message. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  STORAGE_EVENTS_SQS_TIMEOUT_MS = 10000;

  /**
   * Local driver: a finished, verified single PUT (or form POST) to a signed upload URL is the storage event, so the
   * asset moves to processing without `POST /media/{id}/complete`. Multipart uploads still need complete.
   */
  @Transform(toBool)
  @IsBoolean()
  LOCAL_PUT_COMPLETES = true;

  /** Processing jobs at once per worker process. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(64)
  PROCESSING_CONCURRENCY = 4;

  /** Attempts before a processing job is dead-lettered and its asset marked failed. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  PROCESSING_ATTEMPTS = 5;

  /** First retry delay of a processing job (exponential). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  PROCESSING_BACKOFF_MS = 2000;

  /** A processing job running longer fails (and is retried). */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  PROCESSING_TIMEOUT_MS = 30 * 60 * 1000;

  /** How often the outbox relay looks for undelivered follow-up work. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  OUTBOX_POLL_INTERVAL_MS = 1000;

  /** New uploads (upload URLs and tus creations, one shared budget) one principal may start per minute, counted in Redis across replicas. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  RATE_LIMIT_UPLOAD_URLS_PER_MINUTE = 1200;

  /**
   * The same budget (new uploads per minute) for each API key, counted per key rather than per user: a back end
   * acting for many users gets more than one person does.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  API_KEY_RATE_LIMIT_PER_MINUTE = 6000;

  /**
   * How often each replica writes the `lastUsedAt` of the API keys used since its last write (one UPDATE for all of
   * them): a key's row is written at most once per interval per replica, never once per request.
   */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(3600)
  API_KEY_LAST_USED_FLUSH_SECONDS = 60;

  // ---- processing: retries, stalled jobs, reconciliation --------------------------------------------

  /** Longest delay between two attempts of a processing job (the exponential backoff is capped here). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  PROCESSING_BACKOFF_MAX_MS = 60000;

  /** Lock of an active job; a worker that died is noticed (and its jobs re-run) after about this long. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  PROCESSING_LOCK_DURATION_MS = 30000;

  /** How often the reconciliation sweep runs (a Bull repeatable job, once per tick across replicas); 0 = never. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RECONCILE_INTERVAL_MS = 60000;

  /** The sweep processes a `pending` asset whose object is in storage once it is this old (client never called complete). */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RECONCILE_PENDING_AFTER_MS = 60000;

  /** The sweep re-enqueues a `processing` asset unchanged for this long whose job is lost. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RECONCILE_PROCESSING_AFTER_MS = 15 * 60 * 1000;

  // ---- virus scanning --------------------------------------------------------------------------------

  /** `clamd` scans every upload (INSTREAM); `none` scans nothing (warned at start-up, shown by /health/ready). */
  @IsIn(['none', 'clamd'])
  SCANNER: 'none' | 'clamd' = 'none';

  /** clamd TCP host. */
  @IsString()
  @MinLength(1)
  CLAMD_HOST = '127.0.0.1';

  /** clamd TCP port. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  CLAMD_PORT = 3310;

  /** Unix socket of clamd; when set it is used instead of CLAMD_HOST/CLAMD_PORT. */
  @IsOptional()
  @IsString()
  CLAMD_SOCKET?: string;

  /** Bound on connecting to clamd. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  CLAMD_CONNECT_TIMEOUT_MS = 2000;

  /** Bound on one whole scan (streaming the object and waiting for the verdict). */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  CLAMD_TIMEOUT_MS = 5 * 60 * 1000;

  /** What happens to an infected object: `move` it under quarantine/ (never signed for download) or `delete` it. */
  @IsIn(['move', 'delete'])
  QUARANTINE_ACTION: 'move' | 'delete' = 'move';

  // ---- derived media ---------------------------------------------------------------------------------

  /** Images with more pixels than this are refused (decompression bombs); also sharp's limitInputPixels. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  IMAGE_MAX_PIXELS = 100_000_000;

  /** Make a WebP thumbnail (256 px) and preview (1024 px) of every image. */
  @Transform(toBool)
  @IsBoolean()
  DERIVED_MEDIA_ENABLED = true;

  /**
   * Derived images made by processing before an image is `ready` (comma-separated: `thumbnail`, `preview`, or `none`);
   * the others are rendered on their first request (`GET /media/{id}/preview`) and kept.
   */
  @Matches(/^(none|(thumbnail|preview)(,(thumbnail|preview))*)$/, {
    message: 'must be "none" or a comma-separated list of thumbnail, preview',
  })
  DERIVED_MEDIA_EAGER = 'thumbnail';

  /** ffprobe binary for audio/video facts; when it is missing those facts are skipped (logged). */
  @IsString()
  @MinLength(1)
  FFPROBE_PATH = 'ffprobe';

  /** Bound on one ffprobe run. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  FFPROBE_TIMEOUT_MS = 30000;

  // ---- webhooks --------------------------------------------------------------------------------------

  /** Deadline of one webhook attempt (resolving and checking the host, connecting, up to the response head). */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  WEBHOOK_TIMEOUT_MS = 5000;

  /**
   * Hosts a webhook may reach although they are (or resolve to) loopback, private (RFC 1918), CGNAT, link-local
   * or unique-local addresses: comma-separated host names or IP literals as written in the webhook URL, each
   * optionally with `:port` (IPv6 in brackets then), e.g. `hooks.internal,10.0.0.7:8443`. Every other target must
   * resolve to public addresses only, at registration and again at every delivery; cloud metadata names and
   * addresses, unspecified, multicast and reserved addresses are refused always.
   */
  @IsString()
  @Matches(ALLOWED_HOSTS, {
    message: 'WEBHOOK_ALLOWED_HOSTS must be a comma-separated list of host names or IP addresses, each with an optional :port',
  })
  WEBHOOK_ALLOWED_HOSTS = '';

  /** Let every webhook host reach private addresses (as if each were in WEBHOOK_ALLOWED_HOSTS); metadata stays refused. */
  @Transform(toBool)
  @IsBoolean()
  WEBHOOK_ALLOW_PRIVATE_TARGETS = false;

  /** Attempts per delivery before it is marked failed (replayable). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(50)
  WEBHOOK_ATTEMPTS = 10;

  /** First retry delay of a webhook delivery (exponential, capped at one hour). */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  WEBHOOK_BACKOFF_MS = 2000;

  // ---- hot-metadata cache and quotas ----------------------------------------------------------------

  /** Lifetime of hot-metadata cache entries (asset record, metadata, ACL) in Redis; 0 turns the cache off. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(24 * 3600)
  CACHE_TTL_SECONDS = 60;

  /**
   * Lifetime of an entry in each process's in-memory layer in front of the Redis cache; 0 turns that layer off.
   * Changes reach other processes at once through Redis pub/sub; this bounds how stale an entry can be when a
   * notification is lost without the subscription dropping (a drop empties the layer and disables it until
   * resubscribed). Off when CACHE_TTL_SECONDS is 0.
   */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3600 * 1000)
  CACHE_LOCAL_TTL_MS = 5000;

  /** Most assets held by each process's in-memory cache layer (least recently used dropped first). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  CACHE_LOCAL_MAX_ENTRIES = 10000;

  /** Default per-owner quota on total bytes (pending uploads count until they expire); 0 = unlimited. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  QUOTA_MAX_BYTES_PER_OWNER = 100 * 1024 ** 3;

  /** Default per-owner quota on the number of assets (pending uploads count until they expire); 0 = unlimited. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  QUOTA_MAX_ASSETS_PER_OWNER = 100000;

  /** Who may create buckets (POST /buckets): `any` authenticated user, or `admin` only. */
  @IsIn(['any', 'admin'])
  BUCKET_CREATION: 'any' | 'admin' = 'any';

  // ---- resumable uploads (tus) -----------------------------------------------------------------------

  /**
   * Directory where tus uploads collect their bytes until complete (then they are streamed into storage). Default:
   * `<LOCAL_STORAGE_ROOT>/.tus-staging` (beside the buckets, never served). Replicas need sticky sessions or a shared volume.
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  TUS_STAGING_DIR?: string;

  /** An unfinished tus upload (and its pending asset) expires this long after creation; default UPLOAD_URL_TTL_SECONDS. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(30 * 24 * 3600)
  TUS_UPLOAD_EXPIRY_SECONDS?: number;
  // ---- lifecycle jobs and the controllable clock ------------------------------------------------------

  /** Lets admins set or advance the service clock (PUT /admin/clock) that lifecycle age rules read; for tests and drills. Refused when NODE_ENV=production. */
  @Transform(toBool)
  @IsBoolean()
  CLOCK_CONTROL = false;

  /** Cron schedule (5 fields, or 6 with seconds first; UTC) of the expire-pending job (a Bull repeatable job, once per tick across replicas); `off` = never. */
  @Matches(CRON_OR_OFF, { message: 'must be a 5-field cron expression (6 with seconds) or "off"' })
  LIFECYCLE_EXPIRE_PENDING_SCHEDULE = '*/15 * * * *';

  /** Cron schedule of the reconcile job (orphan objects, missing objects, multipart leftovers); `off` = never. */
  @Matches(CRON_OR_OFF, { message: 'must be a 5-field cron expression (6 with seconds) or "off"' })
  LIFECYCLE_RECONCILE_SCHEDULE = '30 3 * * *';

  /** Cron schedule of the integrity scan (re-hash stored objects, restore corrupt ones from another region); `off` = never. */
  @Matches(CRON_OR_OFF, { message: 'must be a 5-field cron expression (6 with seconds) or "off"' })
  LIFECYCLE_INTEGRITY_SCAN_SCHEDULE = '0 4 * * *';

  /** Cron schedule of the tiering job (cold and archive storage classes); `off` = never. */
  @Matches(CRON_OR_OFF, { message: 'must be a 5-field cron expression (6 with seconds) or "off"' })
  LIFECYCLE_TIERING_SCHEDULE = '0 5 * * *';

  /** POST /admin/jobs/{name}/run waits this long for the report; a longer run goes on and answers 202 with its run id. */
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  LIFECYCLE_RUN_TIMEOUT_MS = 60000;

  /** A `pending` asset (upload never completed) older than this, whose upload URL has expired, is deleted with its partial object and multipart uploads. */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  PENDING_UPLOAD_TTL_SECONDS = 24 * 3600;

  /** Objects in storage that no row references are deleted by reconcile once older than this (uploads in flight are younger). */
  @Transform(toInt)
  @IsInt()
  @Min(60)
  ORPHAN_GRACE_SECONDS = 24 * 3600;

  /** Stored objects the integrity scan re-hashes per run, least recently verified first; 0 = all of them. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  INTEGRITY_SCAN_BATCH_SIZE = 1000;

  /** Stored objects not read (downloaded) for this many days move to the infrequent-access class (s3 STANDARD_IA; local: a cold directory). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TIERING_COLD_AFTER_DAYS = 90;

  /** … and after this many days unread to the archive class (s3 GLACIER_IR, still instantly readable); must exceed TIERING_COLD_AFTER_DAYS. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TIERING_ARCHIVE_AFTER_DAYS = 365;

  // ---- on-the-fly image transformations (GET /media/{id}/render) ----------------------------------

  /** What callers with a token may ask of `/render`: `off` (nothing), `presets` (only `?preset=`), `any` (free parameters too). */
  @IsIn(['off', 'presets', 'any'])
  TRANSFORMS: 'off' | 'presets' | 'any' = 'any';

  /** What anonymous callers of public assets may ask of `/render`: `off`, `presets` (only `?preset=`) or `any`. Never more than TRANSFORMS. */
  @IsIn(['off', 'presets', 'any'])
  TRANSFORMS_PUBLIC: 'off' | 'presets' | 'any' = 'presets';

  /** Named renditions for `?preset=`, JSON, e.g. {"avatar":{"width":128,"height":128,"fit":"cover"},"card":{"width":400,"height":300,"fit":"cover","format":"webp"}}. Unset: none. */
  @IsOptional()
  @IsString()
  TRANSFORM_PRESETS?: string;

  /** Largest `width`/`height` of a rendition in pixels (after `dpr`). */
  @Transform(toInt)
  @IsInt()
  @Min(16)
  @Max(16384)
  TRANSFORM_MAX_DIMENSION = 4096;

  /** Sources with more pixels than this are refused (422, read from the header, never decoded): decompression bombs. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TRANSFORM_MAX_INPUT_PIXELS = 100_000_000;

  /** Image sources larger than this many bytes are refused (422); videos are read by ffmpeg with seeks, not whole. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TRANSFORM_MAX_INPUT_BYTES = 256 * 1024 * 1024;

  /** Renders at once per process. Unset: the number of CPU cores. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(256)
  TRANSFORM_CONCURRENCY?: number;

  /**
   * Estimated working memory (MiB) the renders of one process may use together: each render is weighed by its output
   * pixels × its format's cost (AVIF most) before it takes a slot, and waits while the sum would pass this; one
   * render alone always runs. Bounds RSS under large AVIF/PNG encodes.
   */
  @Transform(toInt)
  @IsInt()
  @Min(16)
  TRANSFORM_MEMORY_BUDGET_MB = 96;

  /** Renders that may wait for a slot per process; beyond it (or after TRANSFORM_QUEUE_WAIT_MS waiting) the answer is 503 with Retry-After. */
  @Transform(toInt)
  @IsInt()
  @Min(0)
  TRANSFORM_QUEUE_SIZE = 16;

  /** Longest wait for a render slot before 503 with Retry-After. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TRANSFORM_QUEUE_WAIT_MS = 10_000;

  /** Bound on one render (reading the source, decoding, ffmpeg, encoding); past it 503. */
  @Transform(toInt)
  @IsInt()
  @Min(100)
  TRANSFORM_TIMEOUT_MS = 30_000;

  /** Renditions not yet cached that one caller (user, or client IP when anonymous) may have rendered per minute (429 beyond); cached ones are not counted. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TRANSFORM_RATE_LIMIT_PER_MINUTE = 120;

  /** Renditions not read for this many days are purged by the lifecycle expire-pending job. */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  TRANSFORM_CACHE_TTL_DAYS = 30;

  /** ffmpeg binary for video poster frames. */
  @IsString()
  @MinLength(1)
  FFMPEG_PATH = 'ffmpeg';
}
