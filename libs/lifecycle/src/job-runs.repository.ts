import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

export interface JobRunView {
  id: string;
  name: string;
  trigger: 'schedule' | 'manual';
  dryRun: boolean;
  status: 'running' | 'succeeded' | 'failed' | 'skipped';
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  summary: Record<string, unknown> | null;
  error: string | null;
}

const COLUMNS = `id, name, trigger, dry_run AS "dryRun", status, started_at AS "startedAt", finished_at AS "finishedAt", summary, error`;

/** A job_runs row as COLUMNS selects it. */
type JobRunRow = Omit<JobRunView, 'startedAt' | 'finishedAt' | 'durationMs'> & { startedAt: Date; finishedAt: Date | null };

function view(r: JobRunRow): JobRunView {
  const started = new Date(r.startedAt);
  const finished = r.finishedAt ? new Date(r.finishedAt) : null;
  return {
    id: r.id,
    name: r.name,
    trigger: r.trigger,
    dryRun: r.dryRun,
    status: r.status,
    startedAt: started.toISOString(),
    finishedAt: finished?.toISOString() ?? null,
    durationMs: finished ? finished.getTime() - started.getTime() : null,
    summary: r.summary ?? null,
    error: r.error ?? null,
  };
}

/** All SQL on job_runs (one row per run of a lifecycle job). Timestamps are wall-clock (not the controllable clock). */
@Injectable()
export class JobRunsRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  async start(id: string, name: string, trigger: string, dryRun: boolean): Promise<void> {
    await this.ds.query(`INSERT INTO job_runs (id, name, trigger, dry_run, status) VALUES ($1, $2, $3, $4, 'running')`, [
      id,
      name,
      trigger,
      dryRun,
    ]);
  }

  async finish(id: string, status: 'succeeded' | 'failed', summary: unknown, error: string | null): Promise<void> {
    await this.ds.query(`UPDATE job_runs SET status = $2, summary = $3, error = $4, finished_at = clock_timestamp() WHERE id = $1`, [
      id,
      status,
      summary === null ? null : JSON.stringify(summary),
      error,
    ]);
  }

  async skipped(id: string, name: string, trigger: string, dryRun: boolean, reason: string): Promise<void> {
    await this.ds.query(
      `INSERT INTO job_runs (id, name, trigger, dry_run, status, finished_at, error) VALUES ($1, $2, $3, $4, 'skipped', now(), $5)`,
      [id, name, trigger, dryRun, reason],
    );
  }

  /** Runs of `name` left `running` by a process that died; called while holding the job's lock (nobody else runs it). */
  async failInterrupted(name: string, exceptId: string): Promise<void> {
    await this.ds.query(
      `UPDATE job_runs SET status = 'failed', finished_at = now(), error = 'interrupted: the process running it stopped' WHERE name = $1 AND status = 'running' AND id <> $2`,
      [name, exceptId],
    );
  }

  async find(id: string): Promise<JobRunView | null> {
    const rows = await this.ds.query<JobRunRow[]>(`SELECT ${COLUMNS} FROM job_runs WHERE id = $1`, [id]);
    return rows[0] ? view(rows[0]) : null;
  }

  async recent(name: string | undefined, limit: number): Promise<JobRunView[]> {
    const rows = name
      ? await this.ds.query<JobRunRow[]>(`SELECT ${COLUMNS} FROM job_runs WHERE name = $1 ORDER BY started_at DESC, id LIMIT $2`, [
          name,
          limit,
        ])
      : await this.ds.query<JobRunRow[]>(`SELECT ${COLUMNS} FROM job_runs ORDER BY started_at DESC, id LIMIT $1`, [limit]);
    return rows.map(view);
  }
}
