/**
 * The core queue helpers against the real Redis on 127.0.0.1:6379 with a real Bull queue: ensureRepeatableJob keeps
 * exactly one repeatable per job name (a stale schedule is replaced, `null` removes it, a second call changes
 * nothing), and a worker registered with registerWorker runs jobs and stores their results. Every run uses a key
 * prefix of its own and removes its keys afterwards.
 */
import { randomUUID } from 'node:crypto';
import Bull, { Queue } from 'bull';
import Redis from 'ioredis';
import { ensureRepeatableJob, registerWorker } from '@app/core';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `e2e-queue-workers-${randomUUID().slice(0, 8)}`;

describe('queue workers and repeatable jobs (real Redis, real Bull)', () => {
  const queues: Queue[] = [];
  const redis = new Redis(REDIS_URL);

  /** A fresh queue under this run's prefix. */
  function newQueue(): Queue {
    const q = new Bull(`q-${queues.length}`, REDIS_URL, { prefix: PREFIX });
    queues.push(q);
    return q;
  }

  const repeatables = async (q: Queue, name: string) => (await q.getRepeatableJobs()).filter((r) => r.name === name);

  afterAll(async () => {
    for (const q of queues) await q.close();
    const keys = await redis.keys(`${PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('replaces a repeatable left with another interval by the configured one', async () => {
    const q = newQueue();
    // As an earlier configuration left it: the same job every minute.
    await q.add('sweep', {}, { repeat: { every: 60_000 }, jobId: 'sweep' });
    expect((await repeatables(q, 'sweep')).map((r) => Number(r.every))).toEqual([60_000]);

    await ensureRepeatableJob(q, 'sweep', { every: 30_000 });
    expect((await repeatables(q, 'sweep')).map((r) => Number(r.every))).toEqual([30_000]);
  });

  it('replaces a stale cron schedule, in UTC, with the options given (one repeatable key: job id = job name)', async () => {
    const q = newQueue();
    await ensureRepeatableJob(q, 'nightly', { cron: '0 4 * * *' }, { attempts: 1 });
    await ensureRepeatableJob(q, 'nightly', { cron: '30 2 * * *' }, { attempts: 1 });
    const [only, ...more] = await repeatables(q, 'nightly');
    expect(more).toEqual([]);
    expect(only).toMatchObject({ cron: '30 2 * * *', tz: 'UTC', id: 'nightly' });
    const next = (await q.getDelayed()).filter((j) => j.name === 'nightly');
    expect(next).toHaveLength(1);
    expect(next[0].opts).toMatchObject({ attempts: 1, removeOnComplete: true, removeOnFail: true });
  });

  it('removes the repeatable when the schedule is null, and leaves other job names alone', async () => {
    const q = newQueue();
    await ensureRepeatableJob(q, 'sweep', { every: 45_000 });
    await ensureRepeatableJob(q, 'other', { every: 45_000 });
    await ensureRepeatableJob(q, 'sweep', null);
    expect(await repeatables(q, 'sweep')).toEqual([]);
    expect(await repeatables(q, 'other')).toHaveLength(1);
    await ensureRepeatableJob(q, 'sweep', null); // nothing to remove: still fine
    expect(await repeatables(q, 'sweep')).toEqual([]);
  });

  it('leaves one repeatable when called twice with the same schedule (as every replica does at start-up)', async () => {
    const q = newQueue();
    await ensureRepeatableJob(q, 'sweep', { every: 20_000 });
    await ensureRepeatableJob(q, 'sweep', { every: 20_000 });
    await Promise.all([ensureRepeatableJob(q, 'tick', { cron: '*/15 * * * *' }), ensureRepeatableJob(q, 'tick', { cron: '*/15 * * * *' })]);
    expect(await repeatables(q, 'sweep')).toHaveLength(1);
    expect(await repeatables(q, 'tick')).toHaveLength(1);
    expect((await q.getDelayed()).filter((j) => j.name === 'sweep')).toHaveLength(1);
  });

  it('runs a job with a registered worker and stores its result with the job', async () => {
    const q = newQueue();
    const seen: string[] = [];
    registerWorker<{ n: number }>(q, {
      job: 'double',
      concurrency: 2,
      handler: async (job) => {
        seen.push(String(job.id));
        return { outcome: 'doubled', n: job.data.n * 2 };
      },
    });
    const job = await q.add('double', { n: 21 }, { jobId: 'double-21', removeOnComplete: false });
    await expect(job.finished()).resolves.toEqual({ outcome: 'doubled', n: 42 });
    const stored = await q.getJob('double-21');
    expect(await stored!.getState()).toBe('completed');
    expect(stored!.returnvalue).toEqual({ outcome: 'doubled', n: 42 });
    expect(seen).toEqual(['double-21']);
  });

  it('retries a job whose handler throws, as its job options say', async () => {
    const q = newQueue();
    let calls = 0;
    registerWorker(q, {
      job: 'flaky',
      concurrency: 1,
      handler: async () => {
        calls++;
        if (calls < 2) throw new Error('not yet');
        return 'done';
      },
    });
    const job = await q.add('flaky', {}, { attempts: 2, removeOnComplete: false });
    await expect(job.finished()).resolves.toBe('done');
    const stored = await q.getJob(job.id);
    expect(stored!.returnvalue).toBe('done');
    expect(calls).toBe(2);
  });
});
