import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@nestjs/common';

/**
 * What every log line of one unit of work carries: the HTTP request's id, and for a Bull job its queue and id
 * (with the id of the request that caused it, carried in the job data). Kept in AsyncLocalStorage, so a log
 * call anywhere below a request handler or a job processor picks it up without passing it around.
 */
export interface RequestContext {
  requestId?: string;
  queue?: string;
  jobId?: string;
  /**
   * HTTP requests only: what the access check read about an asset (record, metadata, grants in one query), handed to
   * the handler of the same request so that it does not read it again. Taken once; dropped when the asset changes.
   */
  assetParts?: Map<string, unknown>;
}

/** The one store of the process (AsyncLocalStorage is process-wide by nature; it holds no configuration). */
const storage = new AsyncLocalStorage<RequestContext>();

/** The field that carries the request id in Bull job data and in outbox payloads. */
export const REQUEST_ID_FIELD = 'requestId';
/** Outbox payloads carry it under this reserved key; the relay strips it before the handler sees the payload. */
export const OUTBOX_REQUEST_ID_FIELD = '_requestId';

/** An incoming X-Request-Id is kept only when it looks like an id: 1–128 of letters, digits and `._:-`. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function saneRequestId(value: unknown): string | undefined {
  const v: unknown = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' && SANE_REQUEST_ID.test(v) ? v : undefined;
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/**
 * Hands what was just read about an asset to a later step of the current HTTP request (see RequestContext.assetParts);
 * outside an HTTP request (jobs, the outbox) it is dropped: a long-running job must always read afresh.
 */
export function handOffAssetParts(assetId: string, parts: unknown): void {
  storage.getStore()?.assetParts?.set(assetId, parts);
}

/** What an earlier step of this request read about the asset, once (a second call answers undefined). */
export function takeAssetParts<T>(assetId: string): T | undefined {
  const m = storage.getStore()?.assetParts;
  const v = m?.get(assetId) as T | undefined;
  m?.delete(assetId);
  return v;
}

/** The asset changed: what this request read about it before must not be used. */
export function dropAssetParts(assetId: string): void {
  storage.getStore()?.assetParts?.delete(assetId);
}

/** Runs `fn` (and everything it starts) with `ctx` as the current context. */
export function runInContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** Runs `fn` outside any context: for shared background work a request merely triggers (the outbox relay). */
export function runOutsideContext<T>(fn: () => T): T {
  return storage.exit(fn);
}

/**
 * Job data with the current request id added (when there is one), for `queue.add`. Use at every enqueue site
 * so that the processor's log lines carry the id of the request that caused the job.
 */
export function withRequestId<T extends object>(data: T): T & { requestId?: string } {
  const requestId = currentRequestId();
  if (!requestId || (data as Record<string, unknown>)[REQUEST_ID_FIELD] !== undefined) return data;
  return { ...data, [REQUEST_ID_FIELD]: requestId };
}

interface JobLike {
  id: string | number;
  name: string;
  data: unknown;
}

const jobLogger = new Logger('Jobs');

/**
 * Runs a Bull job's work in its context (queue, job id, and the request id from the job data), and writes one
 * log line when it finishes (info; debug with `quiet`, for repeatable sweeps) or fails (debug: processors log
 * failures with their own detail). Every processor wraps its work in this.
 */
export async function runJobInContext<T>(queue: string, job: JobLike, fn: () => Promise<T>, opts: { quiet?: boolean } = {}): Promise<T> {
  const data = job.data as Record<string, unknown> | null;
  const requestId = saneRequestId(data?.[REQUEST_ID_FIELD]);
  const ctx: RequestContext = { queue, jobId: String(job.id), ...(requestId ? { requestId } : {}) };
  return storage.run(ctx, async () => {
    const started = process.hrtime.bigint();
    const ms = () => Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
    try {
      const result = await fn();
      const outcome =
        result && typeof result === 'object' && 'outcome' in result ? String((result as { outcome: unknown }).outcome) : undefined;
      jobLogger[opts.quiet ? 'debug' : 'log'](
        { job: job.name, durationMs: ms(), ...(outcome ? { outcome } : {}) },
        `job ${queue}/${job.name} finished`,
      );
      return result;
    } catch (e) {
      jobLogger.debug(
        { job: job.name, durationMs: ms(), err: e instanceof Error ? e.message : String(e) },
        `job ${queue}/${job.name} threw`,
      );
      throw e;
    }
  });
}
