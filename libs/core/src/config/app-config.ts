import { createHash } from 'node:crypto';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }) => {
  if (value === undefined || value === '') return undefined;
  const v = String(value).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return value;
};

/**
 * Every environment variable the service reads, with its default. The README's configuration table
 * is this class. Values are validated at boot: a bad one stops the service with a message naming it.
 */
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test'])
  NODE_ENV = 'development';

  @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  /** Base URL clients use to reach this service; signed local-storage URLs are built on it. */
  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  PUBLIC_BASE_URL?: string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsUrl({ require_tld: false, protocols: ['postgres', 'postgresql'], require_protocol: true })
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/media';

  @Transform(toBool) @IsBoolean()
  DATABASE_AUTO_CREATE = true;

  @Transform(toBool) @IsBoolean()
  DATABASE_MIGRATE_ON_START = true;

  @Transform(toInt) @IsInt() @Min(1) @Max(500)
  DATABASE_POOL_SIZE = 10;

  @Transform(toInt) @IsInt() @Min(100)
  DATABASE_STATEMENT_TIMEOUT_MS = 15000;

  @IsUrl({ require_tld: false, protocols: ['redis', 'rediss'], require_protocol: true })
  REDIS_URL = 'redis://127.0.0.1:6379/0';

  /** Prefix for every Redis key (Bull queues too), so several deployments can share one Redis. */
  @IsString() @MinLength(1)
  REDIS_KEY_PREFIX = 'media';

  @IsOptional() @IsString()
  JWT_SECRET?: string;

  @IsIn(['local', 's3'])
  STORAGE_DRIVER: 'local' | 's3' = 'local';

  /** Bucket name: the directory under LOCAL_STORAGE_ROOT, or the S3 bucket. */
  @IsString() @MinLength(1)
  STORAGE_BUCKET = 'media';

  @IsString() @MinLength(1)
  LOCAL_STORAGE_ROOT = './data';

  /** HMAC key for the local driver's signed URLs; defaults to one derived from JWT_SECRET. */
  @IsOptional() @IsString() @MinLength(32)
  STORAGE_SIGNING_SECRET?: string;

  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  S3_ENDPOINT?: string;

  /** Endpoint put into signed URLs for clients, when it differs from S3_ENDPOINT (e.g. Docker networks). */
  @IsOptional() @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  S3_PUBLIC_ENDPOINT?: string;

  @IsString()
  S3_REGION = 'us-east-1';

  @Transform(toBool) @IsBoolean()
  S3_FORCE_PATH_STYLE = false;

  @IsOptional() @IsString()
  S3_ACCESS_KEY_ID?: string;

  @IsOptional() @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  @Transform(toInt) @IsInt() @Min(1000)
  S3_REQUEST_TIMEOUT_MS = 30000;

  @Transform(toInt) @IsInt() @Min(1) @Max(7 * 24 * 3600)
  UPLOAD_URL_TTL_SECONDS = 900;

  @Transform(toInt) @IsInt() @Min(1) @Max(7 * 24 * 3600)
  DOWNLOAD_URL_TTL_SECONDS = 300;

  /** Largest single upload accepted, in bytes (S3 caps a single PUT at 5 GiB). */
  @Transform(toInt) @IsInt() @Min(1)
  MAX_UPLOAD_BYTES = 5 * 1024 ** 3;

  @Transform(toBool) @IsBoolean()
  WORKER_ENABLED = true;

  @Transform(toInt) @IsInt() @Min(1) @Max(64)
  PROCESSING_CONCURRENCY = 4;

  @Transform(toInt) @IsInt() @Min(1) @Max(50)
  PROCESSING_ATTEMPTS = 5;

  @Transform(toInt) @IsInt() @Min(10)
  PROCESSING_BACKOFF_MS = 2000;

  @Transform(toInt) @IsInt() @Min(1000)
  PROCESSING_TIMEOUT_MS = 30 * 60 * 1000;

  @Transform(toInt) @IsInt() @Min(10)
  OUTBOX_POLL_INTERVAL_MS = 1000;
}

export type AppConfig = EnvironmentVariables & {
  /** JWT secret in force (may be the development fallback). */
  jwtSecret: string;
  jwtSecretIsDevelopmentFallback: boolean;
  publicBaseUrl: string;
  storageSigningSecret: string;
};

export const DEVELOPMENT_JWT_SECRET = 'development-only-secret-change-me-0123456789';
export const MIN_PRODUCTION_SECRET_LENGTH = 32;

export class ConfigValidationError extends Error {}

/** Parse and validate `env`; throws ConfigValidationError with one line per bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') raw[k] = v;
  const parsed = plainToInstance(EnvironmentVariables, raw, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { skipMissingProperties: false, whitelist: false });
  const problems: string[] = [];
  for (const e of errors) {
    const got = raw[e.property];
    problems.push(`${e.property}=${got === undefined ? '(unset)' : JSON.stringify(got)}: ${Object.values(e.constraints ?? {}).join('; ')}`);
  }
  const isProd = parsed.NODE_ENV === 'production';
  if (isProd && (!parsed.JWT_SECRET || parsed.JWT_SECRET.length < MIN_PRODUCTION_SECRET_LENGTH)) {
    problems.push(`JWT_SECRET: must be set to at least ${MIN_PRODUCTION_SECRET_LENGTH} characters when NODE_ENV=production`);
  }
  if (parsed.STORAGE_DRIVER === 's3' && !parsed.STORAGE_BUCKET) problems.push('STORAGE_BUCKET: required with STORAGE_DRIVER=s3');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(parsed.STORAGE_BUCKET)) {
    problems.push(`STORAGE_BUCKET=${JSON.stringify(parsed.STORAGE_BUCKET)}: must be 3-63 characters of a-z, 0-9, '.' and '-'`);
  }
  if (problems.length) {
    throw new ConfigValidationError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const jwtSecret = parsed.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET;
  return Object.assign(parsed, {
    jwtSecret,
    jwtSecretIsDevelopmentFallback: !parsed.JWT_SECRET,
    publicBaseUrl: (parsed.PUBLIC_BASE_URL ?? `http://localhost:${parsed.PORT}`).replace(/\/+$/, ''),
    storageSigningSecret:
      parsed.STORAGE_SIGNING_SECRET ?? createHash('sha256').update(`storage-url-signing:${jwtSecret}`).digest('hex'),
  });
}
