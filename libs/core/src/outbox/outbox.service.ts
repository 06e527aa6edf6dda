import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { SERVER_CONFIG, ServerConfig } from '../config/config-sections';
import { currentRequestId, OUTBOX_REQUEST_ID_FIELD, runInContext, runOutsideContext } from '../observability/request-context';
import { withTimeout } from '../util/timeout';

export type OutboxHandler<T = unknown> = (payload: T) => Promise<void>;

/** One message as written: its topic, its payload as JSON, and its delay (ms, as text). */
export interface OutboxRow {
  topic: string;
  payload: string;
  delayMs: string;
}

/** The payload as stored: with the current request id under a reserved key (handlers never see it). */
export function withOutboxRequestId(payload: Record<string, unknown>): Record<string, unknown> {
  const requestId = currentRequestId();
  return requestId ? { ...payload, [OUTBOX_REQUEST_ID_FIELD]: requestId } : payload;
}

/** The payload as handed to its handler, and the request id it was written under (if any). */
export function splitOutboxRequestId(stored: unknown): { payload: unknown; requestId?: string } {
  if (!stored || typeof stored !== 'object' || Array.isArray(stored) || !(OUTBOX_REQUEST_ID_FIELD in stored)) return { payload: stored };
  const { [OUTBOX_REQUEST_ID_FIELD]: requestId, ...payload } = stored as Record<string, unknown>;
  return { payload, requestId: typeof requestId === 'string' ? requestId : undefined };
}

const HANDLER_TIMEOUT_MS = 5000;
const BATCH = 50;
const MAX_BACKOFF_MS = 5 * 60 * 1000;

/**
 * Transactional outbox. `append` is called inside the transaction that commits a state change, so the follow-up
 * (enqueue a job, delete an object) is durable exactly when the change is. The relay delivers each message
 * at least once to the one handler registered for its topic; handlers must be idempotent.
 */
@Injectable()
export class OutboxService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Outbox');
  private readonly handlers = new Map<string, OutboxHandler>();
  /** Transactions whose appends are being collected into one INSERT (see `collect`). */
  private readonly collecting = new WeakMap<EntityManager, OutboxRow[]>();
  private timer?: NodeJS.Timeout;
  private draining?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(SERVER_CONFIG) private readonly server: ServerConfig,
  ) {}

  /** Registers the handler for a topic; a second handler for one topic is a programming error. */
  register<T>(topic: string, handler: OutboxHandler<T>): void {
    if (this.handlers.has(topic)) throw new Error(`Outbox topic "${topic}" already has a handler`);
    this.handlers.set(topic, handler as OutboxHandler); // the payload is what append() stored for this topic
  }

  async append(manager: EntityManager, topic: string, payload: Record<string, unknown>, delayMs = 0): Promise<void> {
    if (!this.handlers.has(topic)) throw new Error(`Outbox topic "${topic}" has no handler`);
    const row = { topic, payload: JSON.stringify(withOutboxRequestId(payload)), delayMs: String(delayMs) };
    const collected = this.collecting.get(manager);
    if (collected) collected.push(row);
    else await this.insert(manager, [row]);
  }

  /**
   * Runs `work` (inside the transaction of `manager`) with the messages it appends on `manager` written together at
   * its end, in one INSERT, in the order they were appended (ids, hence delivery, in that order). Same transaction,
   * same durability: only the round trips are fewer. Nothing is written when `work` throws.
   */
  async collect<T>(manager: EntityManager, work: () => Promise<T>): Promise<T> {
    if (this.collecting.has(manager)) return work(); // already collecting for this transaction
    const rows: OutboxRow[] = [];
    this.collecting.set(manager, rows);
    let result: T;
    try {
      result = await work();
    } finally {
      this.collecting.delete(manager);
    }
    await this.insert(manager, rows);
    return result;
  }

  /**
   * The messages `work` appends on the manager it is given, not written: for a caller that writes them in a statement
   * of its own (`insertClause`), e.g. together with the state change that requires them. `work` may only append.
   */
  async gather(work: (m: EntityManager) => Promise<void>): Promise<OutboxRow[]> {
    const rows: OutboxRow[] = [];
    const appendOnly = new Proxy({} as EntityManager, {
      get: () => {
        throw new Error('OutboxService.gather: the work may only append outbox messages');
      },
    });
    this.collecting.set(appendOnly, rows);
    try {
      await work(appendOnly);
    } finally {
      this.collecting.delete(appendOnly);
    }
    return rows;
  }

  /**
   * `rows` as one INSERT, in their order, its parameters numbered from `$first`. With `guard` (the name of a CTE of
   * the same statement), written only when that CTE returned a row, so the messages commit exactly with that change.
   */
  insertClause(rows: OutboxRow[], first: number, guard?: string): { sql: string; values: unknown[] } {
    return {
      sql: `INSERT INTO outbox (topic, payload, available_at)
            SELECT t, p, now() + (d || ' milliseconds')::interval
              FROM unnest($${first}::varchar[], $${first + 1}::jsonb[], $${first + 2}::text[]) WITH ORDINALITY AS x(t, p, d, n)
             ${guard ? `WHERE EXISTS (SELECT 1 FROM ${guard})` : ''}
             ORDER BY n`,
      values: [rows.map((r) => r.topic), rows.map((r) => r.payload), rows.map((r) => r.delayMs)],
    };
  }

  /** Writes messages in one statement, in their order (ids, hence delivery, in that order). */
  private async insert(manager: EntityManager, rows: OutboxRow[]): Promise<void> {
    if (rows.length === 1) {
      await manager.query(`INSERT INTO outbox (topic, payload, available_at) VALUES ($1, $2, now() + ($3 || ' milliseconds')::interval)`, [
        rows[0].topic,
        rows[0].payload,
        rows[0].delayMs,
      ]);
    } else if (rows.length) {
      const { sql, values } = this.insertClause(rows, 1);
      await manager.query(sql, values);
    }
  }

  /** Ask the relay to run soon (call after the appending transaction committed). */
  kick(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    // A pass delivers everyone's messages: it runs outside the kicking request's context (each handler then runs
    // in the context of the request that wrote its message).
    this.draining = runOutsideContext(() => this.drain())
      .catch((e) => this.logger.warn(`Outbox relay pass failed: ${e instanceof Error ? e.message : e}`))
      .finally(() => {
        this.draining = undefined;
        if (this.again) {
          this.again = false;
          setImmediate(() => this.kick());
        }
      });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), this.server.OUTBOX_POLL_INTERVAL_MS);
    this.timer.unref();
    this.kick();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.draining;
  }

  /** Delivers due messages; returns when none are due or delivery keeps failing. */
  async drain(): Promise<void> {
    for (let round = 0; round < 20 && !this.stopped; round++) {
      let delivered = 0;
      let failures = 0;
      await this.ds.transaction(async (m) => {
        const rows = await m.query<{ id: string; topic: string; payload: unknown; attempts: number }[]>(
          `SELECT id, topic, payload, attempts FROM outbox
            WHERE processed_at IS NULL AND available_at <= now()
            ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
        );
        const done: string[] = [];
        for (const row of rows) {
          const handler = this.handlers.get(row.topic);
          try {
            if (!handler) throw new Error(`no handler for topic ${row.topic}`);
            if (failures >= 2) throw new Error('skipped: earlier deliveries in this pass failed');
            const { payload, requestId } = splitOutboxRequestId(row.payload);
            // The follow-up runs in the context of the request that caused it (its jobs and logs carry the id).
            await runInContext({ requestId }, () => withTimeout(handler(payload), HANDLER_TIMEOUT_MS, `outbox ${row.topic}`));
            done.push(row.id);
            delivered++;
          } catch (e) {
            failures++;
            const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(row.attempts, 20));
            await m.query(
              `UPDATE outbox SET attempts = attempts + 1, last_error = $2, available_at = now() + ($3 || ' milliseconds')::interval WHERE id = $1`,
              [row.id, String(e instanceof Error ? e.message : e).slice(0, 2000), String(backoff)],
            );
          }
        }
        // The delivered messages leave in one statement, committed with the pass (as each one's own DELETE was).
        if (done.length) await m.query(`DELETE FROM outbox WHERE id = ANY($1::bigint[])`, [done]);
        if (!rows.length) delivered = -1;
      });
      if (failures) this.logger.warn(`Outbox: ${failures} deliveries failed, will retry with backoff`);
      if (delivered <= 0 || failures) return;
    }
  }
}
