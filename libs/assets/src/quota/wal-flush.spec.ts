import { WalFlush } from './wal-flush';

const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('WalFlush', () => {
  it('serves a waiter only by a flush that started after it asked, and everyone waiting meanwhile by one flush', async () => {
    const started: (() => void)[] = [];
    const f = new WalFlush(() => new Promise<void>((resolve) => started.push(resolve)));
    const done: string[] = [];
    const a = f.wait().then(() => done.push('a'));
    await turns();
    expect(started).toHaveLength(1);
    const b = f.wait().then(() => done.push('b')); // asked while flush 1 runs: flush 1 may predate b's commit
    const c = f.wait().then(() => done.push('c'));
    await turns();
    expect(started).toHaveLength(1);
    started[0]();
    await a;
    await turns();
    expect(done).toEqual(['a']);
    expect(started).toHaveLength(2); // one flush for b and c together
    started[1]();
    await Promise.all([b, c]);
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it("fails a flush's waiters with its error and goes on serving later ones", async () => {
    let n = 0;
    const f = new WalFlush(async () => {
      if (n++ === 0) throw new Error('connection lost');
    });
    await expect(f.wait()).rejects.toThrow('connection lost');
    await expect(f.wait()).resolves.toBeUndefined();
  });
});
