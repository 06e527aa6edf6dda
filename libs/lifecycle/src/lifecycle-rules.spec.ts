import { isOrphanCandidate, isStaleMultipart, markerPurgeCutoff, targetStorageClass } from './lifecycle-rules';

const now = new Date('2030-06-01T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);
const DAY = 24 * 3600;

describe('lifecycle rules', () => {
  it('judges only our prefixes, and only objects older than the grace period', () => {
    expect(isOrphanCandidate({ key: 'uploads/1/x', lastModified: ago(DAY + 1) }, now, DAY)).toBe(true);
    expect(isOrphanCandidate({ key: 'objects/ab/x', lastModified: ago(DAY - 1) }, now, DAY)).toBe(false);
    expect(isOrphanCandidate({ key: 'derived/x/thumbnail.webp', lastModified: ago(2 * DAY) }, now, DAY)).toBe(true);
    expect(isOrphanCandidate({ key: 'quarantine/x', lastModified: ago(2 * DAY) }, now, DAY)).toBe(true);
    expect(isOrphanCandidate({ key: 'backups/x', lastModified: ago(100 * DAY) }, now, DAY)).toBe(false);
    // Another module's prefix counts only when it is registered (ObjectKeyOwner), with the same grace period.
    expect(isOrphanCandidate({ key: 'renditions/ab/x', lastModified: ago(2 * DAY) }, now, DAY)).toBe(false);
    expect(isOrphanCandidate({ key: 'renditions/ab/x', lastModified: ago(2 * DAY) }, now, DAY, ['renditions/'])).toBe(true);
    expect(isOrphanCandidate({ key: 'renditions/ab/x', lastModified: ago(DAY - 1) }, now, DAY, ['renditions/'])).toBe(false);
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
