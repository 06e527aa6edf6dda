import { Logger } from '@nestjs/common';
import type { Job, JobOptions, Queue } from 'bull';
import { runJobInContext } from '../observability/request-context';
import { withTimeout } from '../util/timeout';

const logger = new Logger('Queues');

/** How long a Redis call that (re)schedules a repeatable job may take before it is given up (retried at the next start). */
export const SCHEDULE_REDIS_TIMEOUT_MS = 5000;

export interface WorkerOptions<T> {
  /** The Bull job name this worker takes. */
  job: string;
  /** Jobs of this name run at most this many at a time in this process. */
  concurrency: number;
  /** The work; its result is stored with the job. Throwing lets Bull retry with the job's backoff. */
  handler: (job: Job<T>) => Promise<unknown>;
  /** Log the finish line at debug (for repeatable sweeps that run every few seconds). */
  quiet?: boolean;
}

/**
 * Registers a worker for one job name of `queue` in this process. Every handler runs in the job's logging
 * context (queue, job id, the request id carried in the job data; see runJobInContext).
 *
 * Shutdown: the worker stops with its queue. `queue.close()` (DrainService.stopWorkers on SIGTERM, and the
 * module's destroy hook) stops taking jobs and waits for the active ones, so a handler is never cut mid-way
 * by the process's own shutdown; a crash is covered by Bull's stalled-job check (every job is idempotent).
 */
export function registerWorker<T = unknown>(queue: Queue, opts: WorkerOptions<T>): void {
  queue
    .process(opts.job, opts.concurrency, (job: Job<T>) => runJobInContext(queue.name, job, () => opts.handler(job), { quiet: opts.quiet }))
    .catch((e: unknown) => logger.error(`worker for ${queue.name}/${opts.job} stopped: ${e instanceof Error ? e.message : String(e)}`));
}

/** When a repeatable job runs: every N ms, or on a cron schedule (UTC); `null` = not scheduled (removed if it was). */
export type RepeatSchedule = { every: number } | { cron: string } | null;

/**
 * Makes `queue` hold exactly one repeatable job named `job` with `schedule`: a repeatable of that name with another
 * schedule (left by an earlier configuration) is removed, and `null` removes it altogether. Every replica calls this
 * with the same arguments, and Bull keys repeatables by name and schedule, so each tick runs once across replicas.
 * Each Redis call is bounded by SCHEDULE_REDIS_TIMEOUT_MS.
 */
export async function ensureRepeatableJob(queue: Queue, job: string, schedule: RepeatSchedule, options: JobOptions = {}): Promise<void> {
  const bounded = <R>(p: Promise<R>, what: string) => withTimeout(p, SCHEDULE_REDIS_TIMEOUT_MS, `${what} (${queue.name}/${job})`);
  const repeat = schedule === null ? null : 'every' in schedule ? { every: schedule.every } : { cron: schedule.cron, tz: 'UTC' };
  for (const r of await bounded(queue.getRepeatableJobs(), 'list repeatable jobs')) {
    if (r.name !== job) continue;
    const same = repeat !== null && ('every' in repeat ? Number(r.every) === repeat.every : r.cron === repeat.cron);
    if (!same) await bounded(queue.removeRepeatableByKey(r.key), 'remove a stale repeatable job');
  }
  if (repeat)
    await bounded(
      queue.add(job, {}, { removeOnComplete: true, removeOnFail: true, ...options, repeat, jobId: job }),
      'schedule a repeatable job',
    );
}
