/**
 * A pending upload is expired when it is older than the TTL and its upload URL can no longer be used (an upload
 * still allowed to arrive is never expired, however long its URL lives). The SQL in AssetLifecycleRepository
 * selects by the same rule; AssetLifecycleService re-checks it under the row lock.
 */
export function isExpiredPending(a: { status: string; createdAt: Date; uploadExpiresAt: Date }, now: Date, ttlSeconds: number): boolean {
  return a.status === 'pending' && a.createdAt.getTime() < now.getTime() - ttlSeconds * 1000 && a.uploadExpiresAt.getTime() < now.getTime();
}
