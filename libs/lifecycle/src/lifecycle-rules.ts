import type { StorageClassName } from '@app/storage';

/** Pure rules of the lifecycle jobs (unit-tested in lifecycle-rules.spec.ts). */

const DAY_MS = 24 * 3600 * 1000;

/** Only keys under these prefixes are ours to judge; anything else in the bucket is left alone. */
export const ORPHAN_PREFIXES = ['uploads/', 'objects/', 'derived/', 'quarantine/'] as const;

/**
 * An object no row uses may be removed once it is older than the grace period (younger ones may be uploads or
 * renders in flight). `extraPrefixes`: other modules' prefixes (ObjectKeyOwner), judged the same way.
 */
export function isOrphanCandidate(
  o: { key: string; lastModified: Date },
  now: Date,
  graceSeconds: number,
  extraPrefixes: readonly string[] = [],
): boolean {
  return (
    [...ORPHAN_PREFIXES, ...extraPrefixes].some((p) => o.key.startsWith(p)) &&
    o.lastModified.getTime() < now.getTime() - graceSeconds * 1000
  );
}

/**
 * Where an object should be now: STANDARD until it is unread for `coldAfterDays`, STANDARD_IA until unread for
 * `archiveAfterDays`, then GLACIER_IR. Objects only ever move colder here (a read keeps them where they are).
 */
export function targetStorageClass(
  current: string,
  lastUsedAt: Date,
  now: Date,
  coldAfterDays: number,
  archiveAfterDays: number,
): StorageClassName | null {
  const unreadMs = now.getTime() - lastUsedAt.getTime();
  const wanted: StorageClassName =
    unreadMs > archiveAfterDays * DAY_MS ? 'GLACIER_IR' : unreadMs > coldAfterDays * DAY_MS ? 'STANDARD_IA' : 'STANDARD';
  const order = ['STANDARD', 'STANDARD_IA', 'GLACIER_IR'];
  const from = order.indexOf(current);
  return from >= 0 && order.indexOf(wanted) > from ? wanted : null;
}

/** Used-upload-key markers guard single-use upload URLs; once every URL for the key has expired they guard nothing. */
export function markerPurgeCutoff(now: Date, uploadUrlTtlSeconds: number): Date {
  // A URL is signed before its key is used, so it expires less than one URL lifetime after the marker appears;
  // five minutes on top cover clock skew between replicas.
  return new Date(now.getTime() - (uploadUrlTtlSeconds + 300) * 1000);
}

/** Stale multipart uploads: started longer ago than the pending TTL (no upload session lives that long). */
export function isStaleMultipart(initiated: Date | undefined, now: Date, ttlSeconds: number): boolean {
  return initiated !== undefined && initiated.getTime() < now.getTime() - ttlSeconds * 1000;
}
