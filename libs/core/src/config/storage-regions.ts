import { createPrivateKey } from 'node:crypto';
import type { EnvironmentVariables } from './environment-variables';

/**
 * Storage regions and CDN settings derived from the environment, validated at boot.
 *
 * With STORAGE_REGIONS unset there is one region, named STORAGE_REGION_NAME, built from the existing
 * single-store variables (STORAGE_DRIVER, STORAGE_BUCKET, LOCAL_STORAGE_ROOT, S3_*): a single-region
 * deployment configures nothing new. STORAGE_REGIONS is a JSON array of regions; every field a region
 * leaves out inherits the corresponding top-level variable, e.g.
 *
 *   [{"name":"eu","driver":"s3","endpoint":"https://s3.eu-west-1.amazonaws.com","region":"eu-west-1","bucket":"media-eu"},
 *    {"name":"us","driver":"s3","region":"us-east-1","bucket":"media-us"}]
 */
interface RegionCommon {
  /** [a-z0-9-], unique; shown by /health/regions and recorded with each replica. */
  name: string;
  primary: boolean;
  /** Physical bucket in this region (the directory under `root` for local regions). */
  bucket: string;
}

export interface LocalRegionSettings extends RegionCommon {
  driver: 'local';
  root: string;
}

export interface S3RegionSettings extends RegionCommon {
  driver: 's3';
  region: string;
  endpoint?: string;
  publicEndpoint?: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  requestTimeoutMs: number;
}

export type StorageRegionSettings = LocalRegionSettings | S3RegionSettings;

const NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_REGIONS = 8;
const COMMON_FIELDS = ['name', 'driver', 'primary', 'bucket'];
const FIELDS: Record<'local' | 's3', string[]> = {
  local: [...COMMON_FIELDS, 'root'],
  s3: [...COMMON_FIELDS, 'region', 'endpoint', 'publicEndpoint', 'forcePathStyle', 'accessKeyId', 'secretAccessKey', 'requestTimeoutMs'],
};

function isHttpUrl(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** The regions in configuration order (exactly one is primary), or the problems found, one line each. */
export function resolveStorageRegions(env: EnvironmentVariables): { regions: StorageRegionSettings[]; problems: string[] } {
  const problems: string[] = [];
  const s3Defaults = {
    region: env.S3_REGION,
    endpoint: env.S3_ENDPOINT,
    publicEndpoint: env.S3_PUBLIC_ENDPOINT,
    forcePathStyle: env.S3_FORCE_PATH_STYLE,
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    requestTimeoutMs: env.S3_REQUEST_TIMEOUT_MS,
  };

  if (!env.STORAGE_REGIONS) {
    if (!NAME.test(env.STORAGE_REGION_NAME)) {
      problems.push(`STORAGE_REGION_NAME=${JSON.stringify(env.STORAGE_REGION_NAME)}: must be 1-32 characters of a-z, 0-9 and '-'`);
    }
    if (env.STORAGE_PRIMARY_REGION && env.STORAGE_PRIMARY_REGION !== env.STORAGE_REGION_NAME) {
      problems.push(
        `STORAGE_PRIMARY_REGION=${JSON.stringify(env.STORAGE_PRIMARY_REGION)}: names no region (without STORAGE_REGIONS the only region is "${env.STORAGE_REGION_NAME}")`,
      );
    }
    const common = { name: env.STORAGE_REGION_NAME, primary: true, bucket: env.STORAGE_BUCKET };
    const region: StorageRegionSettings =
      env.STORAGE_DRIVER === 's3'
        ? { ...common, driver: 's3', ...s3Defaults }
        : { ...common, driver: 'local', root: env.LOCAL_STORAGE_ROOT };
    return { regions: [region], problems };
  }

  let list: unknown;
  try {
    list = JSON.parse(env.STORAGE_REGIONS);
  } catch (e) {
    // The parser's message can quote the input, which may hold credentials: report the position only.
    const at = /position (\d+)/.exec(e instanceof Error ? e.message : '')?.[1];
    problems.push(`STORAGE_REGIONS: is not valid JSON${at ? ` (error at character ${at})` : ''}; expected an array of region objects`);
    return { regions: [], problems };
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_REGIONS) {
    problems.push(`STORAGE_REGIONS: must be a JSON array of 1 to ${MAX_REGIONS} region objects`);
    return { regions: [], problems };
  }

  const regions: StorageRegionSettings[] = [];
  const names = new Set<string>();
  list.forEach((item, i) => {
    const at = `STORAGE_REGIONS[${i}]`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      problems.push(`${at}: must be an object like {"name":"eu","driver":"s3",...}`);
      return;
    }
    const r = item as Record<string, unknown>;
    const bad = (field: string, why: string) =>
      problems.push(
        `${at}.${field}${field in r ? `=${JSON.stringify(field.toLowerCase().includes('secret') ? '***' : r[field])}` : ''}: ${why}`,
      );
    const driver = r.driver ?? env.STORAGE_DRIVER;
    if (driver !== 'local' && driver !== 's3') {
      bad('driver', 'must be "local" or "s3"');
      return;
    }
    for (const k of Object.keys(r))
      if (!FIELDS[driver].includes(k))
        problems.push(`${at}: unknown field "${k}" for a ${driver} region (allowed: ${FIELDS[driver].join(', ')})`);
    const before = problems.length;
    if (typeof r.name !== 'string' || !NAME.test(r.name)) bad('name', `is required: 1-32 characters of a-z, 0-9 and '-'`);
    else if (names.has(r.name)) bad('name', 'is used by another region');
    else names.add(r.name);
    if (r.primary !== undefined && typeof r.primary !== 'boolean') bad('primary', 'must be true or false');
    const bucket = r.bucket ?? env.STORAGE_BUCKET;
    if (typeof bucket !== 'string' || !BUCKET.test(bucket)) bad('bucket', `must be 3-63 characters of a-z, 0-9, '.' and '-'`);
    const common = { name: r.name as string, primary: r.primary === true, bucket: bucket as string };
    if (driver === 'local') {
      if (r.root !== undefined && (typeof r.root !== 'string' || r.root === '')) bad('root', 'must be a directory path');
      if (problems.length === before)
        regions.push({ ...common, driver: 'local', root: (r.root as string | undefined) ?? env.LOCAL_STORAGE_ROOT });
      return;
    }
    for (const f of ['endpoint', 'publicEndpoint'] as const) if (r[f] !== undefined && !isHttpUrl(r[f])) bad(f, 'must be an http(s) URL');
    if (r.region !== undefined && (typeof r.region !== 'string' || r.region === ''))
      bad('region', 'must be a region name like "eu-west-1"');
    if (r.forcePathStyle !== undefined && typeof r.forcePathStyle !== 'boolean') bad('forcePathStyle', 'must be true or false');
    if (r.requestTimeoutMs !== undefined && !(Number.isInteger(r.requestTimeoutMs) && (r.requestTimeoutMs as number) >= 1000)) {
      bad('requestTimeoutMs', 'must be an integer of at least 1000');
    }
    for (const f of ['accessKeyId', 'secretAccessKey'] as const)
      if (r[f] !== undefined && (typeof r[f] !== 'string' || r[f] === '')) bad(f, 'must be a non-empty string');
    const s3: S3RegionSettings = {
      ...common,
      driver: 's3',
      region: (r.region as string | undefined) ?? s3Defaults.region,
      // A region with its own endpoint does not inherit the top-level public endpoint (it belongs to another store).
      endpoint: (r.endpoint as string | undefined) ?? s3Defaults.endpoint,
      publicEndpoint: (r.publicEndpoint as string | undefined) ?? (r.endpoint === undefined ? s3Defaults.publicEndpoint : undefined),
      forcePathStyle: (r.forcePathStyle as boolean | undefined) ?? s3Defaults.forcePathStyle,
      accessKeyId: (r.accessKeyId as string | undefined) ?? (r.secretAccessKey === undefined ? s3Defaults.accessKeyId : undefined),
      secretAccessKey: (r.secretAccessKey as string | undefined) ?? (r.accessKeyId === undefined ? s3Defaults.secretAccessKey : undefined),
      requestTimeoutMs: (r.requestTimeoutMs as number | undefined) ?? s3Defaults.requestTimeoutMs,
    };
    if (Boolean(s3.accessKeyId) !== Boolean(s3.secretAccessKey)) {
      problems.push(`${at}: set both accessKeyId and secretAccessKey, or neither (the SDK's default credentials are used then)`);
    }
    if (problems.length === before) regions.push(s3);
  });
  if (problems.length) return { regions: [], problems };

  // Two local regions on one directory would be one region counted twice.
  const seen = new Map<string, string>();
  for (const r of regions) {
    if (r.driver !== 'local') continue;
    const where = `${r.root.replace(/\/+$/, '')}::${r.bucket}`;
    const other = seen.get(where);
    if (other)
      problems.push(`STORAGE_REGIONS: local regions "${other}" and "${r.name}" use the same root and bucket; give each its own "root"`);
    seen.set(where, r.name);
  }

  const flagged = regions.filter((r) => r.primary).map((r) => r.name);
  if (flagged.length > 1) problems.push(`STORAGE_REGIONS: only one region may be "primary": true (found ${flagged.join(', ')})`);
  let primary = env.STORAGE_PRIMARY_REGION ?? flagged[0] ?? regions[0].name;
  if (env.STORAGE_PRIMARY_REGION) {
    if (!names.has(env.STORAGE_PRIMARY_REGION)) {
      problems.push(
        `STORAGE_PRIMARY_REGION=${JSON.stringify(env.STORAGE_PRIMARY_REGION)}: names no region in STORAGE_REGIONS (${[...names].join(', ')})`,
      );
    } else if (flagged.length === 1 && flagged[0] !== env.STORAGE_PRIMARY_REGION) {
      problems.push(
        `STORAGE_PRIMARY_REGION=${JSON.stringify(env.STORAGE_PRIMARY_REGION)}: contradicts STORAGE_REGIONS, which marks "${flagged[0]}" primary`,
      );
    }
  }
  if (problems.length) return { regions: [], problems };
  primary = names.has(primary) ? primary : regions[0].name;
  return { regions: regions.map((r) => ({ ...r, primary: r.name === primary })), problems };
}

/** The CloudFront private key in force (PEM; `\n` escapes in the variable are turned into newlines). */
export function cloudfrontPrivateKey(env: EnvironmentVariables): string | undefined {
  const raw = env.CLOUDFRONT_PRIVATE_KEY;
  return raw ? raw.replace(/\\n/g, '\n').trim() + '\n' : undefined;
}

/** Problems with the CDN settings, one line each (never quoting the private key). */
export function cdnProblems(env: EnvironmentVariables): string[] {
  if (env.CDN_PROVIDER !== 'cloudfront') return [];
  const problems: string[] = [];
  for (const name of ['CDN_BASE_URL', 'CLOUDFRONT_DISTRIBUTION_ID', 'CLOUDFRONT_KEY_PAIR_ID', 'CLOUDFRONT_PRIVATE_KEY'] as const) {
    if (!env[name]) problems.push(`${name}: required with CDN_PROVIDER=cloudfront`);
  }
  const key = cloudfrontPrivateKey(env);
  if (key) {
    try {
      const k = createPrivateKey(key);
      if (k.asymmetricKeyType !== 'rsa')
        problems.push(
          `CLOUDFRONT_PRIVATE_KEY: must be an RSA private key (CloudFront key groups use RSA 2048), got ${k.asymmetricKeyType}`,
        );
    } catch {
      problems.push('CLOUDFRONT_PRIVATE_KEY: is not a PEM private key (paste the PEM; "\\n" escapes are accepted)');
    }
  }
  if (Boolean(env.CLOUDFRONT_ACCESS_KEY_ID) !== Boolean(env.CLOUDFRONT_SECRET_ACCESS_KEY)) {
    problems.push(
      'CLOUDFRONT_ACCESS_KEY_ID/CLOUDFRONT_SECRET_ACCESS_KEY: set both, or neither (the SDK default credential chain is used then)',
    );
  }
  return problems;
}
