import { BatchTiming, GroupCommit } from './group-commit';

/** A write that answers when told to, recording each batch it was given. */
function controlledWriter() {
  const batches: number[][] = [];
  const pending: (() => void)[] = [];
  const write = (items: number[]) =>
    new Promise<number[]>((resolve) => {
      batches.push(items);
      pending.push(() => resolve(items.map((x) => x * 10)));
    });
  const releaseAll = () => pending.splice(0).forEach((f) => f());
  return { batches, write, releaseAll };
}

const turn = () => new Promise((r) => setImmediate(r));
/** A few turns of the event loop: a finished batch frees its slot, and the next one starts on the turn after. */
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await turn();
};

describe('GroupCommit', () => {
  it('writes a lone item at once, and what arrives meanwhile in one later batch, answering each caller', async () => {
    const w = controlledWriter();
    const g = new GroupCommit<number, number>(w.write, async (x) => x * 10, { maxBatch: 100, maxInFlight: 1 });
    const first = g.submit(1);
    await turn();
    expect(w.batches).toEqual([[1]]);
    const rest = [2, 3, 4].map((x) => g.submit(x));
    await turn();
    expect(w.batches).toHaveLength(1); // the slot is busy: 2, 3, 4 wait together
    w.releaseAll();
    expect(await first).toBe(10);
    await turns();
    expect(w.batches).toEqual([[1], [2, 3, 4]]);
    w.releaseAll();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('cuts batches at maxBatch and keeps at most maxInFlight running', async () => {
    const w = controlledWriter();
    const g = new GroupCommit<number, number>(w.write, async (x) => x, { maxBatch: 2, maxInFlight: 2 });
    const all = [1, 2, 3, 4, 5].map((x) => g.submit(x));
    await turn();
    expect(w.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(g.state).toEqual({ inFlight: 2, queued: 1 });
    w.releaseAll();
    await turns();
    expect(w.batches[2]).toEqual([5]);
    w.releaseAll();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
  });

  it('writes each item alone when a batch fails, so only the bad one fails', async () => {
    const write = (items: number[]) => (items.length > 1 ? Promise.reject(new Error('batch failed')) : Promise.resolve(items));
    const writeOne = (x: number) => (x === 2 ? Promise.reject(new Error('bad item 2')) : Promise.resolve(x));
    const g = new GroupCommit<number, number>(write, writeOne, { maxBatch: 10, maxInFlight: 1 });
    const results = await Promise.allSettled([1, 2, 3].map((x) => g.submit(x)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([1, 'bad item 2', 3]);
  });
});

describe('GroupCommit with durable', () => {
  it('frees the slot when the write returns, and answers only once durable() resolved', async () => {
    const w = controlledWriter();
    const flushes: (() => void)[] = [];
    const durable = () => new Promise<void>((resolve) => flushes.push(resolve));
    const g = new GroupCommit<number, number>(w.write, async (x) => x, { maxBatch: 10, maxInFlight: 1, durable });
    let answered = false;
    const first = g.submit(1).then((v) => ((answered = true), v));
    await turn();
    w.releaseAll(); // committed, not yet durable
    await turns();
    expect(flushes).toHaveLength(1);
    expect(answered).toBe(false);
    const second = g.submit(2);
    await turns();
    expect(w.batches).toEqual([[1], [2]]); // written while the first waits for its flush
    flushes[0]();
    expect(await first).toBe(10);
    w.releaseAll();
    await turns();
    flushes[1]();
    expect(await second).toBe(20);
  });

  it('fails every item of the batch when durable() fails', async () => {
    const g = new GroupCommit<number, number>(
      async (xs) => xs,
      async (x) => x,
      {
        maxBatch: 10,
        maxInFlight: 1,
        durable: () => Promise.reject(new Error('flush failed')),
      },
    );
    const results = await Promise.allSettled([1, 2].map((x) => g.submit(x)));
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value))).toEqual(['flush failed', 'flush failed']);
  });

  it('tells onBatch each answered batch: its size, and its write and flush times as they happened', async () => {
    const w = controlledWriter();
    const flushes: (() => void)[] = [];
    const seen: BatchTiming[] = [];
    const g = new GroupCommit<number, number>(w.write, async (x) => x, {
      maxBatch: 10,
      maxInFlight: 1,
      durable: () => new Promise<void>((resolve) => flushes.push(resolve)),
      onBatch: (t) => seen.push(t),
    });
    const all = [1, 2, 3].map((x) => g.submit(x));
    await turn();
    const writing = performance.now();
    while (performance.now() - writing < 5); // the write takes at least 5 ms
    w.releaseAll();
    await turns();
    expect(seen).toEqual([]); // not durable yet: not answered, not reported
    const flushing = performance.now();
    while (performance.now() - flushing < 5); // the flush takes at least 5 ms
    flushes[0]();
    expect(await Promise.all(all)).toEqual([10, 20, 30]);
    expect(seen).toHaveLength(1);
    expect(seen[0].size).toBe(3);
    expect(seen[0].waitMs).toBeGreaterThanOrEqual(0);
    expect(seen[0].writeMs).toBeGreaterThanOrEqual(5);
    expect(seen[0].durableMs).toBeGreaterThanOrEqual(5);
  });
});
