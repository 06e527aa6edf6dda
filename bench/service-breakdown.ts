import { readFileSync } from 'node:fs';
import type { RunningApp } from '../test/support/app-process';

/**
 * Where a load run's time went inside one service process (WEB_CONCURRENCY=1), from its own /metrics and /proc:
 *   - event-loop delay p99 and max (prom-client's monitorEventLoopDelay, reset at each scrape, 10 ms resolution);
 *   - GC pauses by kind (count, total, how many over 10 ms);
 *   - the main thread's CPU and its run-queue wait (/proc/<pid>/task/<pid>/schedstat: time it was runnable but
 *     another thread had the core) — the scheduler's share of the latency on a shared machine;
 *   - upload-url's group commit: batches, mean size, mean wait / write / durable per batch.
 * Take `breakdownStart` just before the load and pass it to `breakdownLine` just after.
 */
export interface BreakdownMark {
  metrics: Map<string, number>;
  sched: { cpuNs: number; waitNs: number };
}

const METRICS_TOKEN_ENV = 'METRICS_TOKEN';

async function scrape(app: RunningApp): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const r = await fetch(`${app.baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${app.env[METRICS_TOKEN_ENV] ?? ''}` },
    signal: AbortSignal.timeout(5000),
  });
  if (!r.ok) return out;
  for (const line of (await r.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function schedstat(pid: number): { cpuNs: number; waitNs: number } {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { cpuNs: cpu, waitNs: wait };
  } catch {
    return { cpuNs: 0, waitNs: 0 };
  }
}

export async function breakdownStart(app: RunningApp): Promise<BreakdownMark> {
  const metrics = await scrape(app); // also resets the event-loop delay histogram
  return { metrics, sched: schedstat(app.pid()) };
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export async function breakdownLine(app: RunningApp, start: BreakdownMark): Promise<string> {
  const sched = schedstat(app.pid());
  const now = await scrape(app);
  if (!now.size) return '  inside the service: /metrics not readable';
  const d = (key: string) => (now.get(key) ?? 0) - (start.metrics.get(key) ?? 0);
  const parts: string[] = [];
  parts.push(
    `event-loop delay p99 ${r1((now.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000)} ms, max ${r1((now.get('nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000)} ms`,
  );
  const gc = ['minor', 'major', 'incremental']
    .map((kind) => {
      const n = d(`nodejs_gc_duration_seconds_count{kind="${kind}"}`);
      if (!n) return '';
      const over10 = n - d(`nodejs_gc_duration_seconds_bucket{le="0.01",kind="${kind}"}`);
      return `${kind} ${n} × ${r1((1000 * d(`nodejs_gc_duration_seconds_sum{kind="${kind}"}`)) / n)} ms (${over10} over 10 ms)`;
    })
    .filter(Boolean);
  parts.push(`GC ${gc.join(', ') || 'none'}`);
  parts.push(
    `main thread CPU ${Math.round((sched.cpuNs - start.sched.cpuNs) / 1e6)} ms, waiting for a core ${Math.round((sched.waitNs - start.sched.waitNs) / 1e6)} ms`,
  );
  const batches = d('media_pending_batch_size_count');
  if (batches) {
    const mean = (phase: string) => r1((1000 * d(`media_pending_batch_seconds_sum{phase="${phase}"}`)) / batches);
    parts.push(
      `group commit ${batches} batches of ${r1(d('media_pending_batch_size_sum') / batches)}, per batch wait ${mean('wait')} + write ${mean('write')} + WAL flush ${mean('durable')} ms`,
    );
  }
  return `  inside the service: ${parts.join('; ')}`;
}
