/**
 * Group flush for asynchronous commits: `wait()` resolves once everything committed before it was called is durable.
 *
 * A waiter is served by the first flush that STARTS after it asked: `flushOnce` runs a transaction that writes WAL
 * and commits synchronously, and a synchronous commit flushes the whole WAL up to its own commit record, which comes
 * after every commit that had returned before it began. One flush runs at a time; whoever asks meanwhile is served
 * by the next one, all together. If a flush fails, its waiters fail with its error.
 */
export class WalFlush {
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(private readonly flushOnce: () => Promise<unknown>) {}

  wait(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.running) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length) {
        const group = this.waiting.splice(0);
        try {
          await this.flushOnce();
        } catch (e) {
          group.forEach((w) => w.reject(e));
          continue;
        }
        group.forEach((w) => w.resolve());
      }
    } finally {
      this.running = false;
    }
  }
}
