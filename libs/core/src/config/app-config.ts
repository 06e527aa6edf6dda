import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { EnvironmentVariables } from './environment-variables';
import { cdnProblems, cloudfrontPrivateKey, resolveStorageRegions, StorageRegionSettings } from './storage-regions';

export { EnvironmentVariables } from './environment-variables';

export type AppConfig = EnvironmentVariables & {
  /** JWT secret in force (may be the development fallback). */
  jwtSecret: string;
  jwtSecretIsDevelopmentFallback: boolean;
  publicBaseUrl: string;
  /** PUBLIC_STORAGE_URL in force (default publicBaseUrl), without a trailing slash: the base of local signed URLs. */
  publicStorageUrl: string;
  storageSigningSecret: string;
  /** Storage regions in configuration order; exactly one has `primary: true` (see storage-regions.ts). */
  storageRegions: StorageRegionSettings[];
  /** CLOUDFRONT_PRIVATE_KEY as PEM with real newlines. */
  cloudfrontPrivateKey?: string;
  /** TUS_STAGING_DIR in force, absolute. */
  tusStagingDir: string;
  /** TUS_UPLOAD_EXPIRY_SECONDS in force. */
  tusUploadExpirySeconds: number;
  /** API_CORS_ORIGINS parsed (origins without a trailing slash, or just `*`), defaulted to publicBaseUrl's origin. */
  apiCorsOrigins: string[];
  /** CORS_ALLOWED_ORIGINS parsed (the S3 bucket CORS rule's origins), defaulted to apiCorsOrigins. */
  corsAllowedOrigins: string[];
  /** TRUSTED_PROXIES parsed (addresses and CIDRs); empty: no proxy is believed. */
  trustedProxies: string[];
  /** TRANSFORM_PRESETS parsed: preset name → its render parameters (validated by the transform module at start-up). */
  transformPresets: Record<string, Record<string, unknown>>;
  /** TRANSFORM_CONCURRENCY in force (default: the CPU cores). */
  transformConcurrency: number;
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
    const shown = got === undefined ? '(unset)' : /SECRET|TOKEN|PASSWORD|PRIVATE_KEY/.test(e.property) ? '(hidden)' : JSON.stringify(got);
    problems.push(`${e.property}=${shown}: ${Object.values(e.constraints ?? {}).join('; ')}`);
  }
  const isProd = parsed.NODE_ENV === 'production';
  if (isProd && (!parsed.JWT_SECRET || parsed.JWT_SECRET.length < MIN_PRODUCTION_SECRET_LENGTH)) {
    problems.push(`JWT_SECRET: must be set to at least ${MIN_PRODUCTION_SECRET_LENGTH} characters when NODE_ENV=production`);
  }
  if (isProd && parsed.METRICS_ENABLED && !parsed.METRICS_TOKEN && parsed.METRICS_PORT === undefined) {
    problems.push(
      'METRICS_TOKEN: must be set when NODE_ENV=production and METRICS_ENABLED=true (GET /metrics would answer anyone); ' +
        'or serve metrics on their own listener with METRICS_PORT (bound to METRICS_HOST), or set METRICS_ENABLED=false',
    );
  }
  if (parsed.METRICS_PORT !== undefined && parsed.METRICS_PORT === parsed.PORT) {
    problems.push(`METRICS_PORT=${parsed.METRICS_PORT}: must differ from PORT (metrics get their own listener)`);
  }
  const proxies = parseTrustedProxies(parsed.TRUSTED_PROXIES);
  problems.push(...proxies.problems);
  if (isProd && parsed.CLOCK_CONTROL)
    problems.push('CLOCK_CONTROL: must not be true when NODE_ENV=production (it lets admins move the clock lifecycle jobs read)');
  if (parsed.TIERING_ARCHIVE_AFTER_DAYS <= parsed.TIERING_COLD_AFTER_DAYS) {
    problems.push(
      `TIERING_ARCHIVE_AFTER_DAYS=${parsed.TIERING_ARCHIVE_AFTER_DAYS}: must be greater than TIERING_COLD_AFTER_DAYS (${parsed.TIERING_COLD_AFTER_DAYS})`,
    );
  }
  if (!parsed.STORAGE_EVENTS_SQS_ACCESS_KEY_ID !== !parsed.STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY) {
    problems.push(
      'STORAGE_EVENTS_SQS_ACCESS_KEY_ID: set both STORAGE_EVENTS_SQS_ACCESS_KEY_ID and STORAGE_EVENTS_SQS_SECRET_ACCESS_KEY, or neither',
    );
  }
  if (parsed.STORAGE_DRIVER === 's3' && !parsed.STORAGE_BUCKET) problems.push('STORAGE_BUCKET: required with STORAGE_DRIVER=s3');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(parsed.STORAGE_BUCKET)) {
    problems.push(`STORAGE_BUCKET=${JSON.stringify(parsed.STORAGE_BUCKET)}: must be 3-63 characters of a-z, 0-9, '.' and '-'`);
  }
  const apiCors = parseCorsOrigins(parsed.API_CORS_ORIGINS, 'API_CORS_ORIGINS');
  const cors = parseCorsOrigins(parsed.CORS_ALLOWED_ORIGINS, 'CORS_ALLOWED_ORIGINS');
  problems.push(...apiCors.problems, ...cors.problems);
  if (parsed.MULTIPART_PART_SIZE_BYTES < parsed.MULTIPART_MIN_PART_SIZE_BYTES) {
    problems.push(
      `MULTIPART_PART_SIZE_BYTES=${parsed.MULTIPART_PART_SIZE_BYTES}: must be at least MULTIPART_MIN_PART_SIZE_BYTES (${parsed.MULTIPART_MIN_PART_SIZE_BYTES})`,
    );
  }
  const presets = parseTransformPresets(parsed.TRANSFORM_PRESETS);
  problems.push(...presets.problems);
  const storage = resolveStorageRegions(parsed);
  problems.push(...storage.problems, ...cdnProblems(parsed));
  const tusStagingDir = path.resolve(parsed.TUS_STAGING_DIR ?? path.join(parsed.LOCAL_STORAGE_ROOT, '.tus-staging'));
  for (const r of storage.regions) {
    if (r.driver !== 'local') continue;
    const served = path.resolve(r.root, r.bucket);
    if (tusStagingDir === served || tusStagingDir.startsWith(served + path.sep)) {
      problems.push(
        `TUS_STAGING_DIR=${JSON.stringify(tusStagingDir)}: must not be inside the served storage directory ${served} (region "${r.name}")`,
      );
    }
  }
  if (problems.length) {
    throw new ConfigValidationError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const jwtSecret = parsed.JWT_SECRET ?? DEVELOPMENT_JWT_SECRET;
  const publicBaseUrl = (parsed.PUBLIC_BASE_URL ?? `http://localhost:${parsed.PORT}`).replace(/\/+$/, '');
  const apiCorsOrigins = apiCors.origins.length ? apiCors.origins : [new URL(publicBaseUrl).origin];
  return Object.assign(parsed, {
    jwtSecret,
    jwtSecretIsDevelopmentFallback: !parsed.JWT_SECRET,
    publicBaseUrl,
    publicStorageUrl: parsed.PUBLIC_STORAGE_URL ? parsed.PUBLIC_STORAGE_URL.replace(/\/+$/, '') : publicBaseUrl,
    storageSigningSecret: parsed.STORAGE_SIGNING_SECRET ?? createHash('sha256').update(`storage-url-signing:${jwtSecret}`).digest('hex'),
    storageRegions: storage.regions,
    cloudfrontPrivateKey: cloudfrontPrivateKey(parsed),
    tusStagingDir,
    tusUploadExpirySeconds: parsed.TUS_UPLOAD_EXPIRY_SECONDS ?? parsed.UPLOAD_URL_TTL_SECONDS,
    apiCorsOrigins,
    corsAllowedOrigins: cors.origins.length ? cors.origins : apiCorsOrigins,
    trustedProxies: proxies.proxies,
    transformPresets: presets.presets,
    transformConcurrency: parsed.TRANSFORM_CONCURRENCY ?? availableParallelism(),
  });
}

/**
 * TRUSTED_PROXIES: comma-separated IPv4/IPv6 addresses or CIDRs (the list Fastify's `trustProxy` takes). Unset or
 * empty: no proxy is trusted.
 */
export function parseTrustedProxies(value: string | undefined): { proxies: string[]; problems: string[] } {
  const proxies: string[] = [];
  const problems: string[] = [];
  for (const item of (value ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [address, prefix, extra] = item.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (!family || !prefixOk || extra !== undefined) {
      problems.push(`TRUSTED_PROXIES: ${JSON.stringify(item)} is not an IP address or CIDR (e.g. 10.0.0.0/8, 127.0.0.1, fd00::/8)`);
      continue;
    }
    proxies.push(item);
  }
  return { proxies: [...new Set(proxies)], problems };
}

/**
 * API_CORS_ORIGINS / CORS_ALLOWED_ORIGINS: `*` alone, or comma-separated http(s) origins (scheme, host, optional port;
 * no path). `name` is the variable named in the problems.
 */
export function parseCorsOrigins(value: string | undefined, name = 'CORS_ALLOWED_ORIGINS'): { origins: string[]; problems: string[] } {
  if (value === undefined) return { origins: [], problems: [] };
  const origins: string[] = [];
  const problems: string[] = [];
  for (const item of value
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)) {
    if (item === '*') {
      origins.push(item);
      continue;
    }
    let url: URL | undefined;
    try {
      url = new URL(item);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== item.replace(/\/$/, '')) {
      problems.push(
        `${name}: ${JSON.stringify(item)} is not an origin like https://app.example.com (scheme, host, optional port; no path) or *`,
      );
      continue;
    }
    origins.push(url.origin);
  }
  if (!problems.length && !origins.length) problems.push(`${name}: names no origin`);
  if (origins.includes('*') && origins.length > 1) problems.push(`${name}: \`*\` (any origin) cannot be combined with other origins`);
  return { origins: [...new Set(origins)], problems };
}

/**
 * TRANSFORM_PRESETS: a JSON object of preset name (`[a-z0-9_-]{1,64}`) → object of render parameters. The parameters
 * themselves are checked by the transform module at start-up (it owns their rules).
 */
export function parseTransformPresets(value: string | undefined): { presets: Record<string, Record<string, unknown>>; problems: string[] } {
  if (value === undefined) return { presets: {}, problems: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (e) {
    return { presets: {}, problems: [`TRANSFORM_PRESETS: not valid JSON (${e instanceof Error ? e.message : String(e)})`] };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return {
      presets: {},
      problems: ['TRANSFORM_PRESETS: must be a JSON object of preset name → parameters, e.g. {"avatar":{"width":128}}'],
    };
  }
  const presets: Record<string, Record<string, unknown>> = {};
  const problems: string[] = [];
  for (const [name, params] of Object.entries(parsed as Record<string, unknown>)) {
    if (!/^[a-z0-9_-]{1,64}$/.test(name))
      problems.push(`TRANSFORM_PRESETS: preset name ${JSON.stringify(name)} must be 1-64 of a-z, 0-9, _ and -`);
    else if (!params || typeof params !== 'object' || Array.isArray(params))
      problems.push(`TRANSFORM_PRESETS: preset "${name}" must be an object of parameters`);
    else presets[name] = params as Record<string, unknown>;
  }
  return { presets, problems };
}
