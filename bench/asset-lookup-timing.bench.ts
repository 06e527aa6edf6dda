/**
 * Does GET /media/{id} tell "someone else's asset" from "no such asset" by its answer time? Both answer 404 with
 * the same body; this measures how long each takes, one request at a time, against the service in production mode.
 *   other:   an asset that exists and belongs to another user (its record and ACL come from the cache)
 *   missing: one id that does not exist, asked again and again (the negative cache answers after the first)
 *   fresh:   a new random id on every request (nothing can be cached about it: the database answers)
 * LOOKUP_REQUESTS (per kind, default 200). Prints the median and p90 of each, in milliseconds.
 */
import { randomUUID } from 'node:crypto';
import { api, uploadBytes } from '../test/support/api';
import { token } from '../test/support/app-process';
import { startProductionService } from './support';

async function timeOne(url: string, auth: string): Promise<{ ms: number; status: number; body: string }> {
  const started = process.hrtime.bigint();
  const r = await fetch(url, { headers: { authorization: auth } });
  const body = await r.text();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, status: r.status, body };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

async function main() {
  const n = Number(process.env.LOOKUP_REQUESTS ?? 200);
  const app = await startProductionService({ METRICS_TOKEN: 'bench-metrics-token-0123456789' });
  try {
    const owner = api(app.baseUrl, 2001);
    const { assetId } = await uploadBytes(owner, Buffer.from('timing'), { mimeType: 'text/plain' });
    const auth = `Bearer ${token(2002)}`;
    const missing = randomUUID();
    const kinds = {
      other: () => `${app.baseUrl}/media/${assetId}`,
      missing: () => `${app.baseUrl}/media/${missing}`,
      fresh: () => `${app.baseUrl}/media/${randomUUID()}`,
    };
    const times: Record<keyof typeof kinds, number[]> = { other: [], missing: [], fresh: [] };
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) for (const url of Object.values(kinds)) await timeOne(url(), auth); // warm-up
    // Interleaved, so that load on the machine falls on every kind alike.
    for (let i = 0; i < n; i++) {
      for (const [kind, url] of Object.entries(kinds) as [keyof typeof kinds, () => string][]) {
        const r = await timeOne(url(), auth);
        if (r.status !== 404) throw new Error(`${kind}: expected 404, got ${r.status}`);
        bodies.add(r.body.replace(/[0-9a-f-]{36}/g, '<id>'));
        times[kind].push(r.ms);
      }
    }
    for (const [kind, xs] of Object.entries(times)) {
      console.log(
        `GET /media/{id} ${kind.padEnd(7)}: median ${percentile(xs, 0.5).toFixed(2)} ms, p90 ${percentile(xs, 0.9).toFixed(2)} ms (${xs.length} requests)`,
      );
    }
    console.log(`distinct 404 bodies (ids masked): ${bodies.size}`);
  } finally {
    await app.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
