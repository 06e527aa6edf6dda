import { isExpiredPending } from './pending-expiry';

const now = new Date('2030-06-01T12:00:00Z');
const ago = (s: number) => new Date(now.getTime() - s * 1000);
const DAY = 24 * 3600;

describe('isExpiredPending', () => {
  it('expires a pending upload only past the TTL and with its URL expired', () => {
    expect(isExpiredPending({ status: 'pending', createdAt: ago(DAY + 1), uploadExpiresAt: ago(DAY - 900) }, now, DAY)).toBe(true);
    expect(isExpiredPending({ status: 'pending', createdAt: ago(DAY - 1), uploadExpiresAt: ago(10) }, now, DAY)).toBe(false);
    expect(isExpiredPending({ status: 'pending', createdAt: ago(2 * DAY), uploadExpiresAt: ago(-60) }, now, DAY)).toBe(false);
  });

  it('never expires an asset in another status', () => {
    for (const status of ['ready', 'processing', 'failed', 'quarantined', 'deleted']) {
      expect(isExpiredPending({ status, createdAt: ago(10 * DAY), uploadExpiresAt: ago(9 * DAY) }, now, DAY)).toBe(false);
    }
  });
});
