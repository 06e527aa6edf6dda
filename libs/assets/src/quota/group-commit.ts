/** One batch's size and where its time went, for metrics. */
export interface BatchTiming {
  size: number;
  /** From its first item's submit to the start of its write: waiting for a free slot and for the next turn of the loop. */
  waitMs: number;
  /** `write`: the statement and its (possibly asynchronous) commit, as seen from here. */
  writeMs: number;
  /** From `write` returning to `durable()` resolving (0 without `durable`). */
  durableMs: number;
}

/**
 * Group commit: callers submit one item each; items that arrive while earlier batches are being written are
 * written together by one call of `write` (one statement, one transaction, one commit). No timer: a batch
 * starts as soon as a slot is free (at once when idle, so a lone request waits for nobody), and everything that
 * queued meanwhile — up to `maxBatch` — goes in the next one. Under load batches grow by themselves; idle, each
 * request is its own batch.
 *
 * `write` answers one result per item, in order. When it throws for a batch of several, each item is written
 * alone (`writeOne`), so one bad item (or a deadlock victim batch) fails only itself.
 *
 * With `durable`, `write` may return before its commit is durable (an asynchronous commit): the batch's slot is
 * free as soon as `write` returns, so the next batch is written while this one's WAL is flushed, and the callers
 * are answered only once `durable()` (called after `write` returned) has resolved. If it rejects, every item of the
 * batch fails with its error.
 *
 * `onBatch`, when given, is told of every batch answered in full: its size and where its time went (BatchTiming).
 */
export class GroupCommit<I, O> {
  private queue: { item: I; at: number; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly writeOne: (item: I) => Promise<O>,
    private readonly opts: {
      maxBatch: number;
      maxInFlight: number;
      durable?: () => Promise<void>;
      onBatch?: (t: BatchTiming) => void;
    },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, at: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Batches being written now, and items waiting for a slot (for tests and metrics). */
  get state(): { inFlight: number; queued: number } {
    return { inFlight: this.inFlight, queued: this.queue.length };
  }

  /** Starts a batch on the next turn of the event loop, so requests parsed in the same turn share it. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || !this.queue.length) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      let freed = false;
      const free = () => {
        if (freed) return;
        freed = true;
        this.inFlight--;
        this.schedule();
      };
      void this.run(batch, free).finally(free);
    }
  }

  /** Writes the batch, calls `free` once its slot may be reused, then answers its callers. */
  private async run(batch: GroupCommit<I, O>['queue'], free: () => void): Promise<void> {
    let out: O[];
    const started = performance.now();
    let written = started;
    try {
      out = await this.write(batch.map((b) => b.item));
      written = performance.now();
      if (out.length !== batch.length) throw new Error(`group commit: ${out.length} answers for ${batch.length} items`);
    } catch (e) {
      if (batch.length === 1) {
        batch[0].reject(e);
        return;
      }
      await Promise.all(batch.map((b) => this.writeOne(b.item).then(b.resolve, b.reject)));
      return;
    }
    if (this.opts.durable) {
      free();
      try {
        await this.opts.durable();
      } catch (e) {
        batch.forEach((b) => b.reject(e));
        return;
      }
    }
    const done = performance.now();
    this.opts.onBatch?.({
      size: batch.length,
      waitMs: started - batch[0].at,
      writeMs: written - started,
      durableMs: this.opts.durable ? done - written : 0,
    });
    batch.forEach((b, i) => b.resolve(out[i]));
  }
}
