import { AppError } from '@app/core';
import { RenderLimiter } from './render-limiter';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('RenderLimiter', () => {
  it('runs `concurrency` at once, queues `queueSize`, refuses the rest with RenderBusy and a Retry-After', async () => {
    const limiter = new RenderLimiter(2, 1, 10_000);
    const g = gate();
    const running = [limiter.run(() => g.opened), limiter.run(() => g.opened)];
    const queued = limiter.run(async () => 'queued');
    expect([limiter.active, limiter.waiting]).toEqual([2, 1]);
    const refused = await limiter.run(async () => 'never').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('RenderBusy');
    expect(typeof (refused as AppError & { details: { retryAfterSeconds: unknown } }).details.retryAfterSeconds).toBe('number');
    g.open();
    await Promise.all(running);
    expect(await queued).toBe('queued');
    expect([limiter.active, limiter.waiting]).toEqual([0, 0]);
  });

  it('gives up waiting after maxWaitMs', async () => {
    const limiter = new RenderLimiter(1, 5, 50);
    const g = gate();
    const first = limiter.run(() => g.opened);
    const waited = await limiter.run(async () => 'late').catch((e: AppError) => e.code);
    expect(waited).toBe('RenderBusy');
    expect(limiter.waiting).toBe(0);
    g.open();
    await first;
    expect(limiter.active).toBe(0);
  });
});
