import { isExpiredPending, isOrphanCandidate, isStaleMultipart, markerPurgeCutoff, targetStorageClass } from './lifecycle-rules';

const now = new Date('2030-06-01T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);
const DAY = 24 * 3600;

describe('lifecycle rules', () => {
  it('expires a pending upload only past the TTL and with its URL expired', () => {
    expect(isExpiredPending({ status: 'pending', createdAt: ago(DAY + 1), uploadExpiresAt: ago(DAY - 900) }, now, DAY)).toBe(true);
    expect(isExpiredPending({ status: 'pending', createdAt: ago(DAY - 1), uploadExpiresAt: ago(10) }, now, DAY)).toBe(false);
    expect(isExpiredPending({ status: 'pending', createdAt: ago(2 * DAY), uploadExpiresAt: ago(-60) }, now, DAY)).toBe(false);
    for (const status of ['ready', 'processing', 'failed', 'quarantined', 'deleted']) {
      expect(isExpiredPending({ status, createdAt: ago(10 * DAY), uploadExpiresAt: ago(9 * DAY) }, now, DAY)).toBe(false);
    }
  });

  it('judges only our prefixes, and only objects older than the grace period', () => {
    expect(isOrphanCandidate({ key: 'uploads/1/x', lastModified: ago(DAY + 1) }, now, DAY)).toBe(true);
    expect(isOrphanCandidate({ key: 'objects/ab/x', lastModified: ago(DAY - 1) }, now, DAY)).toBe(false);
    expect(isOrphanCandidate({ key: 'derived/x/thumbnail.webp', lastModified: ago(2 * DAY) }, now, DAY)).toBe(true);
    expect(isOrphanCandidate({ key: 'quarantine/x', lastModified: ago(2 * DAY) }, now, DAY)).toBe(true);
    expect(isOrphanCandidate({ key: 'backups/x', lastModified: ago(100 * DAY) }, now, DAY)).toBe(false);
  });

  it('moves objects colder by days unread, never warmer', () => {
    expect(targetStorageClass('STANDARD', ago(89 * DAY), now, 90, 365)).toBeNull();
    expect(targetStorageClass('STANDARD', ago(91 * DAY), now, 90, 365)).toBe('STANDARD_IA');
    expect(targetStorageClass('STANDARD', ago(400 * DAY), now, 90, 365)).toBe('GLACIER_IR');
    expect(targetStorageClass('STANDARD_IA', ago(200 * DAY), now, 90, 365)).toBeNull();
    expect(targetStorageClass('STANDARD_IA', ago(366 * DAY), now, 90, 365)).toBe('GLACIER_IR');
    expect(targetStorageClass('GLACIER_IR', ago(1000 * DAY), now, 90, 365)).toBeNull();
    expect(targetStorageClass('STANDARD_IA', ago(1 * DAY), now, 90, 365)).toBeNull();
  });

  it('purges used-key markers one URL lifetime (plus 5 min) after they appeared', () => {
    expect(markerPurgeCutoff(now, 900).toISOString()).toBe(ago(1200).toISOString());
  });

  it('aborts multipart uploads older than the pending TTL', () => {
    expect(isStaleMultipart(ago(DAY + 1), now, DAY)).toBe(true);
    expect(isStaleMultipart(ago(DAY - 1), now, DAY)).toBe(false);
    expect(isStaleMultipart(undefined, now, DAY)).toBe(false);
  });
});
