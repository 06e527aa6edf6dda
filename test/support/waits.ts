/**
 * Waits for events the service makes observable: rows of its database (the outbox), and its Bull jobs in Redis
 * (under `${REDIS_KEY_PREFIX}:bull:<queue>:`). A test that asserts "nothing else happened" first waits for the
 * work that could have made it happen to be over, so a slow machine makes it slower, never vacuous.
 * Every wait has a deadline and, when it passes, fails naming what it waited for and what was still left.
 */
import Redis from 'ioredis';
import type { RunningApp } from './app-process';

/** The service's Bull queue names (libs/<module>/src/*constants.ts): the middle part of their Redis keys. */
export const QUEUES = { processing: 'processing', webhooks: 'webhooks', cdn: 'cdn', replication: 'storage-replication' } as const;

export interface WaitOptions {
  /** Deadline (default 20 s). */
  timeoutMs?: number;
  /** Poll interval (default 100 ms). */
  everyMs?: number;
}

/**
 * Polls `check` until it returns a truthy value (returned), or fails after the deadline with `what` in the message,
 * the last error `check` threw, and what `explain` (if given) reports about the state at that moment.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: WaitOptions & { what: string; explain?: () => Promise<string> },
): Promise<T> {
  const { timeoutMs = 20000, everyMs = 100 } = opts;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  const detail = opts.explain ? await opts.explain().catch((e) => `(could not tell: ${(e as Error).message})`) : '';
  const lastError = last ? `; last error: ${(last as Error).message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}${lastError}${detail ? `; ${detail}` : ''}`);
}

/** Runs `fn` with a connection to the app's Redis, closed afterwards. */
export async function withRedis<T>(app: RunningApp, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(app.env.REDIS_URL, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // a command fails instead (and a wait retries it until its deadline)
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

// ---- outbox ---------------------------------------------------------------------------------------------

/** A message still in the outbox (the relay deletes a message once its handler succeeded). */
export interface OutboxRow {
  id: string;
  topic: string;
  attempts: number;
  last_error: string | null;
}

/** Messages still in the outbox, oldest first (at most 20). */
export async function outboxBacklog(app: RunningApp): Promise<OutboxRow[]> {
  return app.sql(`SELECT id, topic, attempts, last_error FROM outbox ORDER BY id LIMIT 20`);
}

function describeOutbox(rows: OutboxRow[]): string {
  const row = (r: OutboxRow) => `#${r.id} ${r.topic} (attempts ${r.attempts}${r.last_error ? `: ${r.last_error}` : ''})`;
  return `outbox holds ${rows.length ? rows.map(row).join(', ') : 'nothing'}`;
}

/** Waits until the outbox is empty: every follow-up written with a state change has been handed to its handler. */
export async function waitForOutboxDrained(app: RunningApp, opts: WaitOptions = {}): Promise<void> {
  await waitFor(async () => (await outboxBacklog(app)).length === 0, {
    ...opts,
    what: 'the outbox to drain',
    explain: async () => describeOutbox(await outboxBacklog(app)),
  });
}

// ---- Bull jobs ------------------------------------------------------------------------------------------

const bullKey = (app: RunningApp, queue: string, part: string) => `${app.env.REDIS_KEY_PREFIX}:bull:${queue}:${part}`;
/** Ids Bull gives the runs of a repeatable job (a schedule always has its next run delayed). */
const isScheduledRun = (id: string) => id.startsWith('repeat:');

export interface PendingJob {
  id: string;
  state: 'wait' | 'active' | 'delayed' | 'paused';
}

async function pendingJobsOf(redis: Redis, app: RunningApp, queue: string): Promise<PendingJob[]> {
  const [wait, active, paused, delayed] = await Promise.all([
    redis.lrange(bullKey(app, queue, 'wait'), 0, -1),
    redis.lrange(bullKey(app, queue, 'active'), 0, -1),
    redis.lrange(bullKey(app, queue, 'paused'), 0, -1),
    redis.zrange(bullKey(app, queue, 'delayed'), 0, -1),
  ]);
  const jobs = [
    ...active.map((id) => ({ id, state: 'active' as const })),
    ...wait.map((id) => ({ id, state: 'wait' as const })),
    ...paused.map((id) => ({ id, state: 'paused' as const })),
    ...delayed.map((id) => ({ id, state: 'delayed' as const })),
  ];
  return jobs.filter((j) => !isScheduledRun(j.id));
}

/** Jobs of `queue` that have yet to run or to finish (waiting, active, delayed for a retry, paused); scheduled runs do not count. */
export async function pendingJobs(app: RunningApp, queue: string): Promise<PendingJob[]> {
  return withRedis(app, (redis) => pendingJobsOf(redis, app, queue));
}

/**
 * Waits until the outbox is empty and none of `queues` has a job left to run, seen in that order and then the
 * outbox once more: a job that finished in between wrote its follow-ups to the outbox before it finished.
 * After it, whatever the recent changes set off (relayed messages, their jobs, the jobs' retries) is over.
 */
export async function waitForQueuesIdle(app: RunningApp, queues: string[], opts: WaitOptions = {}): Promise<void> {
  await withRedis(app, async (redis) => {
    await waitFor(
      async () => {
        if ((await outboxBacklog(app)).length) return false;
        for (const q of queues) if ((await pendingJobsOf(redis, app, q)).length) return false;
        return (await outboxBacklog(app)).length === 0;
      },
      {
        ...opts,
        what: `the outbox to drain and the queues ${queues.join(', ')} to have no job left to run`,
        explain: async () => {
          const jobs = await Promise.all(
            queues.map(async (q) => `${q}: [${(await pendingJobsOf(redis, app, q)).map((j) => `${j.id} ${j.state}`).join(', ')}]`),
          );
          return `${describeOutbox(await outboxBacklog(app))}; pending jobs ${jobs.join('; ')}`;
        },
      },
    );
  });
}

export interface JobState {
  id: string;
  /** `missing`: no such job (never added, or removed when it completed). */
  state: PendingJob['state'] | 'completed' | 'failed' | 'missing';
  name?: string;
  /** Attempts that ran to an end (failed or succeeded). */
  attemptsMade: number;
  failedReason?: string;
  data?: unknown;
}

async function jobStateOf(redis: Redis, app: RunningApp, queue: string, id: string): Promise<JobState> {
  const hash = await redis.hgetall(bullKey(app, queue, id));
  if (!Object.keys(hash).length) return { id, state: 'missing', attemptsMade: 0 };
  const listed = async (list: 'active' | 'wait' | 'paused') =>
    (await redis.lrange(bullKey(app, queue, list), 0, -1)).includes(id) ? list : null;
  const [completed, failed, delayed, lists] = await Promise.all([
    redis.zscore(bullKey(app, queue, 'completed'), id),
    redis.zscore(bullKey(app, queue, 'failed'), id),
    redis.zscore(bullKey(app, queue, 'delayed'), id),
    Promise.all([listed('active'), listed('wait'), listed('paused')]),
  ]);
  const inList = lists.find((s) => s !== null) ?? 'missing';
  const state = completed !== null ? 'completed' : failed !== null ? 'failed' : delayed !== null ? 'delayed' : inList;
  let data: unknown;
  try {
    data = hash.data ? JSON.parse(hash.data) : undefined;
  } catch {
    data = hash.data;
  }
  return { id, state, name: hash.name, attemptsMade: Number(hash.attemptsMade ?? 0), failedReason: hash.failedReason || undefined, data };
}

/** The state of one Bull job, read from Redis. */
export async function jobState(app: RunningApp, queue: string, id: string): Promise<JobState> {
  return withRedis(app, (redis) => jobStateOf(redis, app, queue, id));
}

/** Waits until job `id` of `queue` satisfies `predicate`; returns its state then. */
export async function waitForJob(
  app: RunningApp,
  queue: string,
  id: string,
  predicate: (job: JobState) => boolean,
  opts: WaitOptions & { what: string },
): Promise<JobState> {
  return withRedis(app, (redis) =>
    waitFor(
      async () => {
        const job = await jobStateOf(redis, app, queue, id);
        return predicate(job) ? job : undefined;
      },
      {
        ...opts,
        what: `job ${id} of queue ${queue}: ${opts.what}`,
        explain: async () => `the job is ${JSON.stringify(await jobStateOf(redis, app, queue, id))}`,
      },
    ),
  );
}
