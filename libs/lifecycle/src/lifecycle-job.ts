import type { LifecycleJobName } from './lifecycle.constants';

/** What a run knows: the clock reading it measures every age against, and whether it may change anything. */
export interface LifecycleRunContext {
  now: Date;
  dryRun: boolean;
}

/** A report: plain JSON (stored in job_runs.summary and returned by POST /admin/jobs/{name}/run). */
export type LifecycleReport = Record<string, unknown>;

/** One lifecycle job. `run` is idempotent; with `dryRun` it changes nothing and reports what it would do. */
export interface LifecycleJob<R extends LifecycleReport = LifecycleReport> {
  readonly name: LifecycleJobName;
  run(ctx: LifecycleRunContext): Promise<R>;
  /** The one-line summary logged after each run. */
  summarize(report: R): string;
}

/**
 * A purge another module registers with expire-pending (e.g. the tus staging area): removes what expired
 * before `now` and says how much. Called once per expire-pending run (not on dry runs).
 */
export interface ExtraExpirer {
  purgeExpired(now: Date): Promise<{ removed: number }>;
}

/**
 * Another module's objects under a key prefix of its own (e.g. `renditions/`), registered with reconcile: objects
 * under `prefix` whose keys `keysInUse` does not answer (no row names them) and older than ORPHAN_GRACE_SECONDS are
 * orphans and deleted, like those under the service's own prefixes.
 */
export interface ObjectKeyOwner {
  prefix: string;
  keysInUse(bucket: string, keys: string[]): Promise<Set<string>>;
}
