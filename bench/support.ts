import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { RunningApp, startApp } from '../test/support/app-process';

export const PROD_SECRET = 'bench-production-secret-0123456789abcdef';

/** The built service in production mode on 127.0.0.1, with its own database and Redis prefix. */
export function startProductionService(env: Record<string, string> = {}): Promise<RunningApp> {
  return startApp({ NODE_ENV: 'production', LOG_LEVEL: 'warn', ...env });
}

export interface LoadResult {
  requestsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** Runs autocannon and returns requests/s and latency percentiles (ms). */
export async function load(opts: autocannon.Options): Promise<LoadResult> {
  const r = await autocannon({ connections: 64, duration: 10, ...opts });
  return {
    requestsPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** Resident set size of a process in MiB: `VmRSS` now, or `VmHWM` (the peak so far). */
export function rssMiB(pid: number, which: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const m = new RegExp(`${which}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** One result line: the figure, its target, and whether it met it (a miss is reported, not hidden). */
export function report(name: string, value: number, unit: string, target: { min?: number; max?: number }, extra = ''): void {
  const ok = (target.min === undefined || value >= target.min) && (target.max === undefined || value <= target.max);
  const t = [target.min !== undefined ? `>= ${target.min}` : '', target.max !== undefined ? `<= ${target.max}` : ''].filter(Boolean).join(' and ');
  console.log(`${ok ? 'MET ' : 'MISS'}  ${name}: ${value} ${unit}  (target ${t} ${unit})${extra ? `  ${extra}` : ''}`);
}
