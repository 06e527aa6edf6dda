import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { LoadResult } from './support';

/**
 * HTTP load for the benchmarks, from one of two generators:
 *   wrk         (C, one event loop per thread; the Debian package `wrk`): what issue 15's figures were measured with.
 *               It costs the shared 2-core machine little CPU per request, so more is left to the service.
 *   autocannon  (Node, in this process): always available; on a 2-core machine it takes a large share of one core.
 * BENCH_LOADGEN: `wrk` | `autocannon` | `both` (each run twice, wrk first, both printed) | `auto` (default: wrk
 * when installed, else autocannon). Every result names its generator and the CPU it used per request.
 */
export type Generator = 'wrk' | 'autocannon';

export interface LoadSpec {
  url: string;
  duration: number;
  connections?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** `Authorization: Bearer <token>`, the tokens taken in turn, one per request (one token: every request). */
  tokens?: string[];
  /** A request body; `{n}` is the request's number (per generator thread), `{n%K}` that number modulo K. */
  bodyTemplate?: string;
}

export interface GeneratorResult extends LoadResult {
  generator: Generator;
  /** CPU (user + system) the load generator spent per completed request, ms. */
  generatorCpuMsPerReq: number;
}

let wrkPath: string | null | undefined;

/** The wrk binary on PATH, or null. */
export function findWrk(): string | null {
  if (wrkPath === undefined) {
    try {
      wrkPath = execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).trim() || null;
    } catch {
      wrkPath = null;
    }
  }
  return wrkPath;
}

/** The generators BENCH_LOADGEN asks for, in the order to run them (the first one's figures are the headline). */
export function generators(): Generator[] {
  const want = process.env.BENCH_LOADGEN ?? 'auto';
  const wrk = findWrk();
  if (want === 'autocannon') return ['autocannon'];
  if (want === 'wrk' || want === 'both') {
    if (!wrk) throw new Error(`BENCH_LOADGEN=${want} but wrk is not installed (apt-get install -y wrk)`);
    return want === 'both' ? ['wrk', 'autocannon'] : ['wrk'];
  }
  if (want !== 'auto') throw new Error(`BENCH_LOADGEN must be wrk, autocannon, both or auto, not ${JSON.stringify(want)}`);
  return wrk ? ['wrk'] : ['autocannon'];
}

/** One load run with the given generator. */
export function runLoad(generator: Generator, spec: LoadSpec): Promise<GeneratorResult> {
  return generator === 'wrk' ? runWrk(spec) : runAutocannon(spec);
}

const PLACEHOLDER = /\{n(?:%(\d+))?\}/g;

function fillTemplate(template: string, n: number): string {
  return template.replace(PLACEHOLDER, (_m, mod?: string) => String(mod ? n % Number(mod) : n));
}

async function runAutocannon(spec: LoadSpec): Promise<GeneratorResult> {
  const tokens = spec.tokens ?? [];
  let n = 0;
  const cpu0 = process.cpuUsage();
  const r = await autocannon({
    url: spec.url,
    connections: spec.connections ?? 64,
    duration: spec.duration,
    method: spec.method ?? 'GET',
    headers: spec.headers,
    requests: [
      {
        setupRequest: (req: any) => {
          n++;
          const headers = { ...req.headers, ...(tokens.length ? { authorization: `Bearer ${tokens[n % tokens.length]}` } : {}) };
          return spec.bodyTemplate ? { ...req, headers, body: fillTemplate(spec.bodyTemplate, n) } : { ...req, headers };
        },
      },
    ],
  });
  const cpu = process.cpuUsage(cpu0);
  const total = r.requests.total;
  return {
    generator: 'autocannon',
    requestsPerSec: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    total,
    generatorCpuMsPerReq: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, total)) * 1000) / 1000,
  };
}

/** A Lua long string holding `s` exactly. */
function luaString(s: string): string {
  let eq = '';
  while (s.includes(`]${eq}]`)) eq += '=';
  return `[${eq}[${s}]${eq}]`;
}

/** A Lua expression building the body for request number `n`. */
function luaBody(template: string): string {
  const parts: string[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(luaString(template.slice(last, m.index)));
    parts.push(m[1] ? `tostring(n % ${Number(m[1])})` : 'tostring(n)');
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(luaString(template.slice(last)));
  return parts.length ? parts.join(' .. ') : '""';
}

/**
 * The wrk script: the method, headers, rotating bearer tokens and numbered bodies of `spec`; at the end, one line
 * `WRKJSON {...}` with the figures and the CPU wrk used (its own /proc/self/stat, read as it finishes).
 */
function wrkScript(spec: LoadSpec): string {
  const u = new URL(spec.url);
  const headers = Object.entries(spec.headers ?? {})
    .map(([k, v]) => `[ ${luaString(k)} ] = ${luaString(v)}`)
    .join(', ');
  return `
local tokens = { ${(spec.tokens ?? []).map(luaString).join(', ')} }
local path = ${luaString(u.pathname + u.search)}
local method = ${luaString(spec.method ?? 'GET')}
local n = 0
request = function()
  n = n + 1
  local h = { ${headers} }
  if #tokens > 0 then h["authorization"] = "Bearer " .. tokens[(n % #tokens) + 1] end
  ${spec.bodyTemplate ? `return wrk.format(method, path, h, ${luaBody(spec.bodyTemplate)})` : 'return wrk.format(method, path, h, nil)'}
end
done = function(summary, latency, requests)
  local f = io.open("/proc/self/stat", "r")
  local stat = f:read("*a")
  f:close()
  local fields = {}
  for x in stat:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = x end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"utime":%s,"stime":%s}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, fields[12], fields[13]))
end
`;
}

async function runWrk(spec: LoadSpec): Promise<GeneratorResult> {
  const wrk = findWrk();
  if (!wrk) throw new Error('wrk is not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-wrk-'));
  const script = path.join(dir, 'load.lua');
  writeFileSync(script, wrkScript(spec));
  const u = new URL(spec.url);
  const args = ['-t2', `-c${spec.connections ?? 64}`, `-d${spec.duration}s`, '--timeout', '10s', '-s', script, `${u.protocol}//${u.host}`];
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), (spec.duration + 30) * 1000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(killer);
        if (code === 0) resolve(text);
        else reject(new Error(`wrk exited with ${code}:\n${text}`));
      });
    });
    const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
    if (!line) throw new Error(`wrk printed no result:\n${out}`);
    const w = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
    const total = w.requests;
    const ticks = w.utime + w.stime; // USER_HZ = 100
    return {
      generator: 'wrk',
      requestsPerSec: Math.round(total / (w.durationUs / 1e6)),
      p50: Math.round(w.p50Us / 100) / 10,
      p99: Math.round(w.p99Us / 100) / 10,
      errors: w.connect + w.read + w.write + w.timeout,
      non2xx: w.status,
      total,
      generatorCpuMsPerReq: Math.round(((ticks * 10) / Math.max(1, total)) * 1000) / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
