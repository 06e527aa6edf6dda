import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { RunningApp, startApp } from '../test/support/app-process';

export const PROD_SECRET = 'bench-production-secret-0123456789abcdef';

/** The built service in production mode on 127.0.0.1, with its own database and Redis prefix. */
/** BENCH_ENV='{"NAME":"value"}': settings (e.g. NODE_OPTIONS) added to every benchmark's service. */
export const BENCH_ENV: Record<string, string> = JSON.parse(process.env.BENCH_ENV ?? '{}');

/** BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof': node options for the service that NODE_OPTIONS refuses. */
export const BENCH_NODE_ARGS: string[] = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** The service in production mode, with BENCH_ENV; what a benchmark passes itself (e.g. WEB_CONCURRENCY) wins. */
export function startProductionService(env: Record<string, string> = {}, mainJs?: string): Promise<RunningApp> {
  return startApp(
    { NODE_ENV: 'production', LOG_LEVEL: 'warn', METRICS_TOKEN: 'bench-metrics-token-0123456789', ...BENCH_ENV, ...env },
    { nodeArgs: BENCH_NODE_ARGS, mainJs },
  );
}

export interface LoadResult {
  requestsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Requests completed. */
  total: number;
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
    total: r.requests.total,
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
  const t = [target.min !== undefined ? `>= ${target.min}` : '', target.max !== undefined ? `<= ${target.max}` : '']
    .filter(Boolean)
    .join(' and ');
  console.log(`${ok ? 'MET ' : 'MISS'}  ${name}: ${value} ${unit}  (target ${t} ${unit})${extra ? `  ${extra}` : ''}`);
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
export function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0; // gone meanwhile
  }
}

/** User and system CPU time (ms) a process has used so far, apart (system: the kernel's work for it — syscalls, fsync). */
export function cpuSplitMs(pid: number): { user: number; system: number } {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return { user: (Number(f[11]) * 1000) / 100, system: (Number(f[12]) * 1000) / 100 };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** CPU time (ms) used so far by a process and its child processes (node:cluster workers). */
export function treeCpuMs(pid: number): number {
  let total = cpuMs(pid);
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (
        Number(
          readFileSync(`/proc/${p}/stat`, 'utf8')
            .replace(/^.*\) /, '')
            .split(' ')[1],
        ) === pid
      )
        total += cpuMs(Number(p));
    } catch {
      /* exited */
    }
  }
  return total;
}

/** CPU time (ms) used so far by the PostgreSQL backends serving `database` (their process title names it). */
export function postgresCpuMs(database: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${database} `)) total += cpuMs(Number(pid));
    } catch {
      /* exited */
    }
  }
  return total;
}

/**
 * Runs `run` and reports the CPU it cost per request: in the service process and in its PostgreSQL backends.
 * Unlike requests/s, these barely move when other work shares the machine.
 */
export async function withCpu<T extends LoadResult>(
  app: { pid(): number; databaseUrl: string },
  run: () => Promise<T>,
): Promise<T & { serviceCpuMsPerReq: number; postgresCpuMsPerReq: number }> {
  const db = decodeURIComponent(new URL(app.databaseUrl).pathname.slice(1));
  const s0 = treeCpuMs(app.pid());
  const p0 = postgresCpuMs(db);
  const r = await run();
  const requests = Math.max(1, r.total);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    ...r,
    serviceCpuMsPerReq: round((treeCpuMs(app.pid()) - s0) / requests),
    postgresCpuMsPerReq: round((postgresCpuMs(db) - p0) / requests),
  };
}

/** CPU time (ms) per thread name (comm) of a process so far, user+system; for splitting the main thread from workers. */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const raw = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const comm = tid === String(pid) ? 'main' : raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')')).replace(/[0-9]+$/, '');
        const f = raw.replace(/^.*\) /, '').split(' ');
        out.set(comm, (out.get(comm) ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / 100);
      } catch {
        // a thread gone meanwhile
      }
    }
  } catch {
    // the process gone
  }
  return out;
}
