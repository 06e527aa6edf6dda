import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Clock, Errors, LIFECYCLE_CONFIG, LifecycleConfig, REDIS, REDIS_CONFIG, RedisConfig, TimeoutError, withTimeout } from '@app/core';
import type Redis from 'ioredis';
import { JobRunsRepository, JobRunView } from './job-runs.repository';
import { LIFECYCLE_JOB_NAMES, LIFECYCLE_LOCK_PREFIX, LIFECYCLE_LOCK_TTL_MS, LifecycleJobName } from './lifecycle.constants';
import { LifecycleEvents } from './lifecycle.events';
import { LifecycleJob, LifecycleReport } from './lifecycle-job';
import { ExpirePendingJob } from './jobs/expire-pending.job';
import { IntegrityScanJob } from './jobs/integrity-scan.job';
import { ReconcileJob } from './jobs/reconcile.job';
import { TieringJob } from './jobs/tiering.job';

const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** A held job lock; renewed in the background until released. */
interface HeldLock {
  release(): Promise<void>;
}

export type ManualRunResult = { finished: true; run: JobRunView } | { finished: false; runId: string };

/**
 * Runs lifecycle jobs, whoever asks (a scheduled Bull tick or POST /admin/jobs/{name}/run): the same code path,
 * under a per-job Redis lock so a manual run and a scheduled tick never overlap (the tick that finds the lock
 * taken is recorded as `skipped`; a manual run gets 409). Every run is a job_runs row and one log line.
 */
@Injectable()
export class LifecycleRunner implements OnModuleInit {
  private readonly logger = new Logger('Lifecycle');
  private readonly jobs = new Map<LifecycleJobName, LifecycleJob>();
  private readonly lockPrefix: string;

  constructor(
    private readonly expirePending: ExpirePendingJob,
    private readonly reconcile: ReconcileJob,
    private readonly integrityScan: IntegrityScanJob,
    private readonly tiering: TieringJob,
    private readonly runs: JobRunsRepository,
    private readonly events: LifecycleEvents,
    private readonly clock: Clock,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LIFECYCLE_CONFIG) private readonly lifecycle: LifecycleConfig,
    @Inject(REDIS_CONFIG) redisConfig: RedisConfig,
  ) {
    this.lockPrefix = `${redisConfig.REDIS_KEY_PREFIX}:${LIFECYCLE_LOCK_PREFIX}`;
  }

  /** One handler per job name, and every name handled: start-up refuses anything else. */
  onModuleInit(): void {
    for (const job of [this.expirePending, this.reconcile, this.integrityScan, this.tiering] as LifecycleJob[]) {
      if (this.jobs.has(job.name)) throw new Error(`lifecycle job "${job.name}" has two handlers`);
      this.jobs.set(job.name, job);
    }
    const missing = LIFECYCLE_JOB_NAMES.filter((n) => !this.jobs.has(n));
    if (missing.length) throw new Error(`lifecycle job(s) without a handler: ${missing.join(', ')}`);
  }

  /** A manual run: its report when it finishes within LIFECYCLE_RUN_TIMEOUT_MS, else its id (it goes on). */
  async runNow(name: LifecycleJobName, dryRun: boolean): Promise<ManualRunResult> {
    const lock = await this.lock(name).catch((e) => {
      throw Errors.unavailable(`Could not take the lock of job "${name}" (Redis): ${e instanceof Error ? e.message : e}`);
    });
    if (!lock) throw Errors.jobAlreadyRunning(name);
    const runId = randomUUID();
    const done = this.execute(name, 'manual', dryRun, runId, lock);
    try {
      await withTimeout(done, this.lifecycle.LIFECYCLE_RUN_TIMEOUT_MS, `lifecycle job ${name}`);
    } catch (e) {
      if (e instanceof TimeoutError) return { finished: false, runId };
      throw e;
    }
    const run = await this.runs.find(runId);
    if (!run) throw new Error(`job run ${runId} vanished`);
    return { finished: true, run };
  }

  /** A scheduled tick (one replica per tick, through Bull): skipped, and recorded as such, while a run holds the lock. */
  async runScheduled(name: LifecycleJobName): Promise<JobRunView['status']> {
    const runId = randomUUID();
    const lock = await this.lock(name);
    if (!lock) {
      await this.runs.skipped(runId, name, 'schedule', false, 'another run of this job was in progress');
      this.logger.log({ job: name, runId }, `lifecycle ${name} (schedule): skipped, another run is in progress`);
      return 'skipped';
    }
    return this.execute(name, 'schedule', false, runId, lock);
  }

  recentRuns(name: LifecycleJobName | undefined, limit: number): Promise<JobRunView[]> {
    return this.runs.recent(name, limit);
  }

  private async execute(
    name: LifecycleJobName,
    trigger: 'schedule' | 'manual',
    dryRun: boolean,
    runId: string,
    lock: HeldLock,
  ): Promise<JobRunView['status']> {
    const job = this.jobs.get(name)!;
    const started = Date.now();
    let status: 'succeeded' | 'failed' = 'failed';
    let report: LifecycleReport | null = null;
    try {
      await this.runs.start(runId, name, trigger, dryRun);
      await this.runs.failInterrupted(name, runId);
      const now = this.clock.now();
      try {
        report = { asOf: now.toISOString(), ...(await job.run({ now, dryRun })) };
        status = 'succeeded';
        await this.runs.finish(runId, 'succeeded', report, null);
        this.logger.log(
          { job: name, runId, trigger, dryRun, durationMs: Date.now() - started },
          `lifecycle ${name} (${trigger}${dryRun ? ', dry run' : ''}): ${job.summarize(report)}`,
        );
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        await this.runs.finish(runId, 'failed', report, message.slice(0, 4000));
        this.logger.error(
          { job: name, runId, trigger, dryRun, durationMs: Date.now() - started },
          `lifecycle ${name} (${trigger}${dryRun ? ', dry run' : ''}) failed: ${message}`,
        );
      }
    } finally {
      await lock.release().catch(() => undefined);
      this.events.emitRunFinished({ runId, name, trigger, dryRun, status, durationMs: Date.now() - started, report });
    }
    return status;
  }

  /** Takes the job's lock (SET NX PX), renewing it while held; null when another run holds it. */
  private async lock(name: LifecycleJobName): Promise<HeldLock | null> {
    const key = `${this.lockPrefix}:${name}`;
    const token = randomUUID();
    const ok = await this.redis.set(key, token, 'PX', LIFECYCLE_LOCK_TTL_MS, 'NX');
    if (ok !== 'OK') return null;
    const timer = setInterval(() => {
      void this.redis.eval(RENEW_LUA, 1, key, token, String(LIFECYCLE_LOCK_TTL_MS)).catch(() => undefined);
    }, LIFECYCLE_LOCK_TTL_MS / 3);
    timer.unref();
    return {
      release: async () => {
        clearInterval(timer);
        await this.redis.eval(RELEASE_LUA, 1, key, token);
      },
    };
  }
}
