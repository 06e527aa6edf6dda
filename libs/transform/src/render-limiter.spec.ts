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

describe('RenderLimiter memory budget', () => {
  it('runs renders together only while their costs fit the budget; one alone always runs; first come first served', async () => {
    const limiter = new RenderLimiter(4, 10, 10_000, 100);
    const big = gate();
    const order: string[] = [];
    const first = limiter.run(() => big.opened.then(() => order.push('big')), undefined, 150); // over budget, alone: runs
    expect([limiter.active, limiter.memoryInUse]).toEqual([1, 150]);
    const small = gate();
    const second = limiter.run(() => small.opened.then(() => order.push('small')), undefined, 60);
    const third = limiter.run(async () => order.push('tiny'), undefined, 10); // fits, but waits behind `second`
    expect([limiter.active, limiter.waiting]).toEqual([1, 2]);
    big.open();
    await first;
    // `second` (60) and `third` (10) fit together once the big one is done.
    await third;
    expect([limiter.active, limiter.memoryInUse]).toEqual([1, 60]);
    small.open();
    await second;
    expect(order).toEqual(['big', 'tiny', 'small']);
    expect([limiter.active, limiter.waiting, limiter.memoryInUse]).toEqual([0, 0, 0]);
  });

  it('a waiter that times out lets the one behind it in when that one fits', async () => {
    const limiter = new RenderLimiter(4, 10, 30, 100);
    const g = gate();
    const holder = limiter.run(() => g.opened, undefined, 80);
    const tooBig = limiter.run(async () => 'never', undefined, 50).catch((e: AppError) => e.code);
    const behind = limiter.run(async () => 'fits', undefined, 20); // fits now, but queued behind `tooBig`
    expect(limiter.waiting).toBe(2);
    expect(await tooBig).toBe('RenderBusy');
    expect(await behind).toBe('fits'); // while the holder still runs
    expect([limiter.active, limiter.memoryInUse]).toEqual([1, 80]);
    g.open();
    await holder;
  });
});
