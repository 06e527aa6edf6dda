import { loadConfig } from '@app/core';
import { LIFECYCLE_JOB_NAMES, SCHEDULED_TICK_OPTIONS, scheduleOf } from './lifecycle.constants';

const PROD = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), METRICS_TOKEN: 'm'.repeat(20) };

describe('lifecycle configuration', () => {
  it('has a schedule for every job, and `off` turns one off', () => {
    const c = loadConfig({ LIFECYCLE_TIERING_SCHEDULE: 'off', LIFECYCLE_RECONCILE_SCHEDULE: '0 2 * * 1' });
    expect(LIFECYCLE_JOB_NAMES.map((n) => scheduleOf(c, n))).toEqual(['*/15 * * * *', '0 2 * * 1', '0 4 * * *', null]);
    expect(c).toMatchObject({
      PENDING_UPLOAD_TTL_SECONDS: 86400,
      ORPHAN_GRACE_SECONDS: 86400,
      TIERING_COLD_AFTER_DAYS: 90,
      TIERING_ARCHIVE_AFTER_DAYS: 365,
      CLOCK_CONTROL: false,
    });
  });

  it('does not retry a scheduled tick (the next tick is the retry)', () => {
    // The repeat itself (cron in UTC, job id = job name) is ensureRepeatableJob's; see test/queue-workers.e2e-spec.ts.
    expect(SCHEDULED_TICK_OPTIONS).toEqual({ attempts: 1 });
  });

  it('refuses a malformed schedule, CLOCK_CONTROL in production, and an archive age below the cold age', () => {
    expect(() => loadConfig({ LIFECYCLE_EXPIRE_PENDING_SCHEDULE: 'every hour' })).toThrow(
      /LIFECYCLE_EXPIRE_PENDING_SCHEDULE="every hour": must be a 5-field cron/,
    );
    expect(() => loadConfig({ ...PROD, CLOCK_CONTROL: 'true' })).toThrow(/CLOCK_CONTROL: must not be true when NODE_ENV=production/);
    expect(loadConfig({ ...PROD }).CLOCK_CONTROL).toBe(false);
    expect(loadConfig({ CLOCK_CONTROL: 'true' }).CLOCK_CONTROL).toBe(true);
    expect(() => loadConfig({ TIERING_COLD_AFTER_DAYS: '30', TIERING_ARCHIVE_AFTER_DAYS: '30' })).toThrow(
      /TIERING_ARCHIVE_AFTER_DAYS=30: must be greater than TIERING_COLD_AFTER_DAYS/,
    );
  });
});
