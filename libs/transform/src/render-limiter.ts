import { Errors } from '@app/core';

interface Waiter {
  cost: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * At most `concurrency` renders at once in this process, and together at most `memoryBudget` of estimated working
 * memory (each render says its cost, see renderCost; one render alone always runs, whatever its cost, so a big one
 * is never starved, only run by itself). Up to `queueSize` more wait, first come first served (each at most
 * `maxWaitMs`); beyond that, 503 RenderBusy with a Retry-After estimated from recent render times. Nothing is
 * queued outside this process, so a full queue answers at once instead of piling work up.
 */
export class RenderLimiter {
  private running = 0;
  private spent = 0;
  private readonly waiters: Waiter[] = [];
  /** Moving average of render times (ms), for Retry-After. */
  private averageMs = 500;

  constructor(
    readonly concurrency: number,
    readonly queueSize: number,
    private readonly maxWaitMs: number,
    readonly memoryBudget = Number.POSITIVE_INFINITY,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Estimated working memory of the renders running now. */
  get memoryInUse(): number {
    return this.spent;
  }

  /** Runs `fn` in a slot, counting `cost` against the memory budget; `onWaited(ms)` is told how long it queued. */
  async run<T>(fn: () => Promise<T>, onWaited?: (ms: number) => void, cost = 0): Promise<T> {
    const queuedAt = performance.now();
    await this.acquire(cost);
    const started = performance.now();
    onWaited?.(started - queuedAt);
    try {
      return await fn();
    } finally {
      this.averageMs = this.averageMs * 0.8 + (performance.now() - started) * 0.2;
      this.release(cost);
    }
  }

  /** Seconds a refused caller should wait: the time the queue ahead of it needs to drain, at least 1. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((this.waiters.length + 1) * this.averageMs) / this.concurrency / 1000));
  }

  private fits(cost: number): boolean {
    return this.running < this.concurrency && (this.running === 0 || this.spent + cost <= this.memoryBudget);
  }

  private acquire(cost: number): Promise<void> {
    if (this.waiters.length === 0 && this.fits(cost)) {
      this.running++;
      this.spent += cost;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.queueSize)
      return Promise.reject(
        this.busy(`all ${this.concurrency} render slots (or the render memory budget) and the ${this.queueSize}-place queue are taken`),
      );
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        cost,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(this.busy(`no render slot came free within ${this.maxWaitMs} ms`));
          this.admit(); // the one behind it may fit where it did not
        }, this.maxWaitMs),
      };
      this.waiters.push(waiter);
    });
  }

  private release(cost: number): void {
    this.running--;
    this.spent -= cost;
    this.admit();
  }

  /** Starts waiters in order while the head fits (first come, first served: a big render is not overtaken forever). */
  private admit(): void {
    while (this.waiters.length && this.fits(this.waiters[0].cost)) {
      const next = this.waiters.shift()!;
      clearTimeout(next.timer);
      this.running++;
      this.spent += next.cost;
      next.resolve();
    }
  }

  private busy(why: string) {
    return Errors.renderBusy(`The image renderer is busy (${why}); retry later`, this.retryAfterSeconds());
  }
}
