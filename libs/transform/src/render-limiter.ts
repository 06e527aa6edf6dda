import { Errors } from '@app/core';

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * At most `concurrency` renders at once in this process; up to `queueSize` more wait (each at most `maxWaitMs`);
 * beyond that, 503 RenderBusy with a Retry-After estimated from recent render times. Nothing is queued outside
 * this process, so a full queue answers at once instead of piling work up.
 */
export class RenderLimiter {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  /** Moving average of render times (ms), for Retry-After. */
  private averageMs = 500;

  constructor(
    readonly concurrency: number,
    readonly queueSize: number,
    private readonly maxWaitMs: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Runs `fn` in a slot; `onWaited(ms)` is told how long it queued. */
  async run<T>(fn: () => Promise<T>, onWaited?: (ms: number) => void): Promise<T> {
    const queuedAt = performance.now();
    await this.acquire();
    const started = performance.now();
    onWaited?.(started - queuedAt);
    try {
      return await fn();
    } finally {
      this.averageMs = this.averageMs * 0.8 + (performance.now() - started) * 0.2;
      this.release();
    }
  }

  /** Seconds a refused caller should wait: the time the queue ahead of it needs to drain, at least 1. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((this.waiters.length + 1) * this.averageMs) / this.concurrency / 1000));
  }

  private acquire(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiters.length >= this.queueSize)
      return Promise.reject(this.busy(`all ${this.concurrency} render slots and the ${this.queueSize}-place queue are taken`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(this.busy(`no render slot came free within ${this.maxWaitMs} ms`));
        }, this.maxWaitMs),
      };
      this.waiters.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) {
      clearTimeout(next.timer);
      next.resolve(); // the slot passes to it: `running` stays
    } else this.running--;
  }

  private busy(why: string) {
    return Errors.renderBusy(`The image renderer is busy (${why}); retry later`, this.retryAfterSeconds());
  }
}
