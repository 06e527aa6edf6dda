/**
 * Does the time from `POST /media/{id}/complete` to `ready` tell whether the bytes were stored before? It must not:
 * processing takes the same steps for new and known bytes (its own object for every asset, then ready), and the dedup
 * work (linking, checking the shared object) runs afterwards through the outbox.
 *
 * For each driver (local, and the S3 emulator started in-process), DEDUP_ROUNDS rounds (default 5) of
 * DEDUP_SAMPLES pairs (default 20): in each pair, one upload of bytes that another owner stored before ("known") and
 * one of fresh random bytes ("new"), of DEDUP_KIB KiB (default 256), in random order. Each sample is complete →
 * ready (the long-poll `GET /media/{id}?waitFor=ready` returning), one upload at a time, after the outbox drained (so
 * the previous sample's background work is finished alike for both kinds).
 *
 * Prints both distributions (median, p10, p90, mean), each round's medians, and the noise: how far the medians of
 * one kind move from round to round (the larger range of the two kinds) and the A/A difference (new vs new: odd
 * against even samples). MET when |median(known) − median(new)| is within that run-to-run noise. On a loaded machine
 * that noise is large, so it also prints the paired view, which load drifts do not blur: the median of known − new
 * within each back-to-back pair with a bootstrap 95% interval, and how often known was the faster of the pair (a
 * sign test: with a real shortcut for known bytes, known wins most pairs and p gets small).
 */
import { randomBytes } from 'node:crypto';
import { api, Api, uploadBytes } from '../test/support/api';
import { RunningApp } from '../test/support/app-process';
import { s3ServiceEnv, startS3Server } from '../test/support/s3-server';
import { waitForOutboxDrained } from '../test/support/waits';
import { startProductionService } from './support';

const ROUNDS = Number(process.env.DEDUP_ROUNDS ?? 5);
const SAMPLES = Number(process.env.DEDUP_SAMPLES ?? 20);
const SIZE = Number(process.env.DEDUP_KIB ?? 256) * 1024;

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const median = (xs: number[]) => percentile(xs, 0.5);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

/** 95% bootstrap interval of the median of `xs` (2000 resamples). */
function bootstrapMedianCi(xs: number[]): [number, number] {
  const medians: number[] = [];
  for (let b = 0; b < 2000; b++) medians.push(median(Array.from(xs, () => xs[Math.floor(Math.random() * xs.length)])));
  return [percentile(medians, 0.025), percentile(medians, 0.975)];
}

/** Two-sided sign test: how likely `k` of `n` or a split at least as lopsided is when either order is equally likely. */
function signTestP(k: number, n: number): number {
  const tail = Math.min(k, n - k);
  let p = 0;
  let c = 1; // C(n, i)
  for (let i = 0; i <= tail; i++) {
    p += c / 2 ** n;
    c = (c * (n - i)) / (i + 1);
  }
  return Math.min(1, 2 * p);
}

/** Uploads `bytes` (PUT to the signed URL), then times complete → ready. */
async function completeToReady(client: Api, bytes: Buffer): Promise<number> {
  const up = await uploadBytes(client, bytes, { mimeType: 'application/octet-stream', checksum: true });
  if (up.putStatus !== 200) throw new Error(`PUT answered ${up.putStatus}: ${up.putBody}`);
  const started = process.hrtime.bigint();
  const complete = await client.post(`/media/${up.assetId}/complete`);
  if (complete.status !== 202) throw new Error(`complete answered ${complete.status}: ${complete.text}`);
  const ready = await client.get(`/media/${up.assetId}?waitFor=ready&timeout=30`);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (ready.body?.status !== 'ready') throw new Error(`asset ended ${ready.body?.status}: ${ready.text}`);
  return ms;
}

function describe(kind: string, xs: number[]): string {
  return `${kind.padEnd(5)}: median ${fmt(median(xs))}, p10 ${fmt(percentile(xs, 0.1))}, p90 ${fmt(percentile(xs, 0.9))}, mean ${fmt(mean(xs))} (${xs.length} uploads)`;
}

async function measure(driver: string, app: RunningApp): Promise<void> {
  const first = api(app.baseUrl, 3001); // stores the "known" bytes first
  const second = api(app.baseUrl, 3002); // uploads both kinds
  const known: number[][] = [];
  const fresh: number[][] = [];
  /** known − new of each pair (taken back to back, so slow drifts of the machine's load cancel out). */
  const paired: number[] = [];
  // Warm-up (JIT, connection pools, caches): a few of each kind, not counted.
  for (let i = 0; i < 3; i++) {
    const b = randomBytes(SIZE);
    await completeToReady(first, b);
    await completeToReady(second, b);
    await completeToReady(second, randomBytes(SIZE));
  }
  for (let r = 0; r < ROUNDS; r++) {
    const k: number[] = [];
    const n: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const existing = randomBytes(SIZE);
      await completeToReady(first, existing); // now stored: the same bytes again are "known"
      const pair: Array<[number[], Buffer]> = [
        [k, existing],
        [n, randomBytes(SIZE)],
      ];
      if (Math.random() < 0.5) pair.reverse();
      for (const [into, bytes] of pair) {
        await waitForOutboxDrained(app, { timeoutMs: 30_000 });
        into.push(await completeToReady(second, bytes));
      }
      paired.push(k[k.length - 1] - n[n.length - 1]);
    }
    known.push(k);
    fresh.push(n);
    console.log(`  round ${r + 1}: known median ${fmt(median(k))}, new median ${fmt(median(n))}`);
  }
  const allKnown = known.flat();
  const allNew = fresh.flat();
  const roundRange = (rounds: number[][]) => {
    const ms = rounds.map(median);
    return Math.max(...ms) - Math.min(...ms);
  };
  const noise = Math.max(roundRange(known), roundRange(fresh));
  const aa = Math.abs(median(allNew.filter((_, i) => i % 2 === 0)) - median(allNew.filter((_, i) => i % 2 === 1)));
  const diff = median(allKnown) - median(allNew);
  console.log(`[${driver}] complete → ready, ${SIZE / 1024} KiB, ${ROUNDS} rounds × ${SAMPLES} pairs`);
  console.log(`  ${describe('known', allKnown)}`);
  console.log(`  ${describe('new', allNew)}`);
  console.log(
    `  noise: round-to-round range of medians ${fmt(noise)} (known ${fmt(roundRange(known))}, new ${fmt(roundRange(fresh))}); A/A (new vs new) ${fmt(aa)}`,
  );
  const faster = paired.filter((d) => d < 0).length;
  const [lo, hi] = bootstrapMedianCi(paired);
  console.log(
    `  paired (known − new, back to back): median ${fmt(median(paired))}, 95% CI [${fmt(lo)}, ${fmt(hi)}]; known faster in ${faster} of ${paired.length} pairs (sign test p = ${signTestP(faster, paired.length).toFixed(3)})`,
  );
  const ok = Math.abs(diff) <= noise;
  console.log(
    `${ok ? 'MET ' : 'MISS'}  [${driver}] median(known) − median(new) = ${diff >= 0 ? '+' : ''}${fmt(diff)}  (target: within the run-to-run noise, ±${fmt(noise)})`,
  );
}

async function main() {
  const which = (process.env.DEDUP_DRIVERS ?? 'local,s3').split(',');
  if (which.includes('local')) {
    const app = await startProductionService();
    try {
      await measure('local', app);
    } finally {
      await app.stop();
    }
  }
  if (which.includes('s3')) {
    const s3 = await startS3Server({ buckets: ['media-bench'] });
    const app = await startProductionService(s3ServiceEnv(s3, 'media-bench'));
    try {
      await measure('s3 emulator', app);
    } finally {
      await app.stop();
      await s3.stop();
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
