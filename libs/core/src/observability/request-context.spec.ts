import { Logger } from '@nestjs/common';
import { currentRequestId, runInContext, runJobInContext, runOutsideContext, saneRequestId, withRequestId } from './request-context';

// The job helper logs through Nest's Logger; keep the test output clean.
beforeAll(() => {
  Logger.overrideLogger(false);
});

describe('saneRequestId', () => {
  it('keeps ids made of letters, digits and ._:- up to 128 characters', () => {
    for (const id of ['abc', 'req-abc-123', '3f2b8c1e-0d6a-4c1f-9d0e-1a2b3c4d5e6f', 'trace.span:7_x', 'a'.repeat(128)])
      expect(saneRequestId(id)).toBe(id);
  });

  it('refuses anything else (spaces, quotes, control characters, too long, empty, not a string)', () => {
    for (const id of ['', 'a b', 'a"b', 'a\nb', 'a\u0000', '<script>', 'a'.repeat(129), 'é', undefined, null, 42, {}]) {
      expect(saneRequestId(id)).toBeUndefined();
    }
  });

  it('takes the first of repeated headers', () => {
    expect(saneRequestId(['first', 'second'])).toBe('first');
  });
});

describe('request context', () => {
  it('is visible to everything a unit of work starts, including after awaits and timers', async () => {
    const seen = await runInContext({ requestId: 'r-1' }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      return new Promise<string | undefined>((resolve) => setImmediate(() => resolve(currentRequestId())));
    });
    expect(seen).toBe('r-1');
    expect(currentRequestId()).toBeUndefined();
  });

  it('can start shared background work outside the current request', async () => {
    const seen = await runInContext({ requestId: 'r-5' }, () => runOutsideContext(async () => currentRequestId()));
    expect(seen).toBeUndefined();
  });

  it('adds the current request id to job data, and leaves data alone outside a request', () => {
    expect(withRequestId({ assetId: 'a' })).toEqual({ assetId: 'a' });
    expect(runInContext({ requestId: 'r-2' }, () => withRequestId({ assetId: 'a' }))).toEqual({ assetId: 'a', requestId: 'r-2' });
    // An id already carried (a job re-enqueued from another job) is kept.
    expect(runInContext({ requestId: 'r-3' }, () => withRequestId({ assetId: 'a', requestId: 'r-0' }))).toEqual({
      assetId: 'a',
      requestId: 'r-0',
    });
  });

  it('runs a job in the context of the request id its data carries (a malformed one is dropped)', async () => {
    const job = { id: 7, name: 'process-asset', data: { assetId: 'a', requestId: 'r-4' } };
    expect(await runJobInContext('processing', job, async () => currentRequestId())).toBe('r-4');
    const bad = { id: 8, name: 'process-asset', data: { requestId: 'no spaces allowed' } };
    expect(await runJobInContext('processing', bad, async () => currentRequestId())).toBeUndefined();
    await expect(runJobInContext('processing', job, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});
