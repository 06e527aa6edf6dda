import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Asset, ListQuery, MediaClient, RenderOptions } from '@app/sdk';
import { createProgressReporter, formatBytes, ProgressReporter } from './progress-reporter';

/** Wrong invocation (exit code 2), found after commander's own parsing. */
export class UsageError extends Error {}

interface GlobalOptions {
  url?: string;
  token?: string;
  apiKey?: string;
  quiet?: boolean;
}

export interface CliContext {
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
  out: (line: string) => void;
}

const positiveInt = (name: string, max: number) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}.`);
  return Number(v);
};
/** A byte rate: a number with an optional K, M or G suffix (powers of 1024), e.g. 512K, 20M. */
export function parseRate(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(v.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!Number.isFinite(n) || n < 1)
    throw new InvalidArgumentError('--limit-rate must be a byte rate such as 500K, 20M or 1G (per second).');
  return Math.floor(n);
}
const collect = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];
const PERMISSIONS = ['read', 'write', 'delete'] as const;
const API_KEY_SCOPES = ['read', 'write', 'admin'] as const;

async function pool<T>(items: T[], width: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

function clientFrom(cmd: Command, signal: AbortSignal): MediaClient {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const baseUrl = g.url ?? process.env.MEDIA_URL ?? 'http://localhost:3000';
  const token = g.token ?? process.env.MEDIA_TOKEN;
  const apiKey = g.apiKey ?? process.env.MEDIA_API_KEY;
  if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new UsageError(`--url must be an http(s) URL, got "${baseUrl}"`);
  if (!token && !apiKey) throw new UsageError('No credentials: pass --token <jwt> or --api-key <key>, or set MEDIA_TOKEN or MEDIA_API_KEY');
  // An API key wins over a token: a back end that sets MEDIA_API_KEY means it.
  return new MediaClient(apiKey ? { baseUrl, apiKey, signal } : { baseUrl, token, signal });
}

const reporterFrom = (cmd: Command): ProgressReporter => createProgressReporter(!!cmd.optsWithGlobals<GlobalOptions>().quiet);

function row(a: Asset): string {
  return [a.assetId, a.status.padEnd(11), formatBytes(a.sizeBytes).padStart(10), a.mimeType.padEnd(24), a.createdAt, a.filename].join('  ');
}

function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

/** The `media` command line. */
export function buildProgram(ctx: CliContext): Command {
  /** Runs `fn` for each id in turn; a failure is one stderr line and the rest go on; any failure fails the command. */
  const eachId = async (ids: string[], what: string, fn: (id: string) => Promise<void>): Promise<void> => {
    let failed = 0;
    for (const id of ids) {
      try {
        await fn(id);
      } catch (e) {
        if (ctx.signal.aborted) throw e;
        failed++;
        process.stderr.write(`media: ${id}: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
    if (failed) throw new FailuresReported(`${failed} of ${ids.length} ${what} failed`);
  };

  const program = new Command('media')
    .description('Command-line client of the media storage service')
    .version(packageVersion())
    .addOption(new Option('--url <url>', 'service base URL').env('MEDIA_URL'))
    .addOption(new Option('--token <jwt>', 'bearer token').env('MEDIA_TOKEN'))
    .addOption(new Option('--api-key <key>', 'API key (msk_…), used instead of a token when given').env('MEDIA_API_KEY'))
    .option('-q, --quiet', 'no progress output')
    .exitOverride();

  program
    .command('upload')
    .description(
      'upload files (in parallel; large ones as multipart uploads, resumed on rerun after an interruption); prints "<id>\\t<file>" for each',
    )
    .argument('<files...>', 'files to upload')
    .option('-c, --concurrency <n>', 'uploads at once', positiveInt('--concurrency', 64), 4)
    .option('-t, --type <mime>', 'declared media type for every file (default: from the extension)')
    .option('-m, --meta <key=value>', 'metadata tag (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-w, --wait', 'wait until each asset is ready (or failed)')
    .option('--wait-timeout <seconds>', 'how long --wait waits per file', positiveInt('--wait-timeout', 86400), 300)
    .option('--multipart', 'send every file as a multipart upload (default: the service decides by size)')
    .option('--part-concurrency <n>', 'multipart: parts sent at once per file', positiveInt('--part-concurrency', 64), 4)
    .option('--no-resume', 'multipart: neither resume an interrupted upload of the file nor keep a record to resume this one')
    .option('--limit-rate <rate>', "bound on each upload's rate, e.g. 20M (bytes per second)", parseRate)
    .option('--json', 'print the results as JSON')
    .option('--to <bucket/folder>', 'put each file at <folder>/<file name> in <bucket> (e.g. photos/2026/)')
    .action(async (files: string[], opts: Record<string, unknown>, cmd: Command) => {
      const client = clientFrom(cmd, ctx.signal);
      const to = typeof opts.to === 'string' ? splitLocation(opts.to, true) : undefined;
      const folder = to?.path ? (to.path.endsWith('/') ? to.path : `${to.path}/`) : '';
      const metadata: Record<string, string> = {};
      for (const m of (opts.meta as string[] | undefined) ?? []) {
        const i = m.indexOf('=');
        if (i < 1) throw new UsageError(`--meta must be key=value, got "${m}"`);
        metadata[m.slice(0, i)] = m.slice(i + 1);
      }
      const reporter = reporterFrom(cmd);
      const results: {
        file: string;
        assetId?: string;
        status?: string;
        sha256?: string;
        strategy?: string;
        parts?: unknown;
        error?: string;
      }[] = files.map((file) => ({ file }));
      try {
        await pool(files, opts.concurrency as number, async (file, i) => {
          const name = path.basename(file);
          let task: ReturnType<ProgressReporter['start']> | undefined;
          try {
            const up = await client.uploadFile(file, {
              ...(to ? { bucket: to.bucket, path: `${folder}${path.basename(file)}` } : {}),
              contentType: opts.type as string | undefined,
              metadata: Object.keys(metadata).length ? metadata : undefined,
              signal: ctx.signal,
              multipart: opts.multipart ? true : undefined,
              partConcurrency: opts.partConcurrency as number,
              maxBytesPerSecond: opts.limitRate as number | undefined,
              resume: opts.resume !== false,
              onResume: (r) =>
                reporter.log(`resuming ${file}: ${r.storedParts} of ${r.partCount} parts already stored (asset ${r.assetId})`),
              onProgress: (p) => {
                task ??= reporter.start(name, p.total ?? 0);
                task.update(p.loaded, p.phase === 'hash' ? 'hashing' : 'uploading');
              },
            });
            task ??= reporter.start(name, up.sizeBytes);
            let status: string = up.status;
            if (opts.wait) {
              task.update(up.sizeBytes, 'processing');
              status = (await client.waitForReady(up.assetId, { timeout: (opts.waitTimeout as number) * 1000, signal: ctx.signal })).status;
            }
            task.done(status);
            results[i] = {
              file,
              assetId: up.assetId,
              status,
              sha256: up.sha256,
              strategy: up.strategy,
              ...(up.parts ? { parts: up.parts } : {}),
            };
            if (!opts.json) ctx.out(`${up.assetId}\t${file}`);
          } catch (e) {
            task?.fail();
            if (ctx.signal.aborted) throw e;
            results[i] = { file, error: e instanceof Error ? e.message : String(e) };
          }
        });
      } finally {
        reporter.stop();
      }
      if (opts.json) ctx.out(JSON.stringify(results, null, 2));
      const failed = results.filter((r) => r.error);
      if (failed.length) {
        for (const f of failed) process.stderr.write(`media: ${f.file}: ${f.error}\n`);
        throw new FailuresReported(`${failed.length} of ${files.length} uploads failed`);
      }
    });

  program
    .command('ls')
    .description('list assets you can read, newest first; with <bucket>[/<prefix>]: that folder, in path order (folders as "PRE <prefix>")')
    .argument('[location]', 'bucket/prefix, e.g. invoices/2026/')
    .option('-r, --recursive', 'with a location: every path under the prefix, no folders')
    .option('--q <text>', 'filename or path contains this text (case- and accent-insensitive)')
    .option('-s, --status <status>', 'pending, processing, ready, failed, quarantined (repeatable or comma-separated)', collect)
    .option('--mime <prefix>', 'media type or prefix, e.g. image/')
    .option('--tag <key:value>', 'metadata tag, all must match (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--owner <userId>', 'only assets of this owner')
    .option('-n, --limit <n>', 'at most this many', positiveInt('--limit', 1000), 50)
    .option('--cursor <cursor>', 'continue from a previous page')
    .option('--json', 'print the page as JSON ({ items, nextCursor })')
    .action(
      async (location: string | undefined, opts: ListQuery & { mime?: string; json?: boolean; recursive?: boolean }, cmd: Command) => {
        const client = clientFrom(cmd, ctx.signal);
        if (location !== undefined) {
          const { bucket, path: prefix } = splitLocation(location, true);
          const objects = await client.listObjects(bucket, {
            prefix: prefix || undefined,
            delimiter: opts.recursive ? undefined : '/',
            limit: opts.limit,
            cursor: opts.cursor,
            q: opts.q,
          });
          if (opts.json) return ctx.out(JSON.stringify(objects, null, 2));
          for (const p of objects.prefixes) ctx.out(`${'PRE'.padStart(36)}  ${p}`);
          for (const o of objects.items)
            ctx.out([o.assetId, o.status.padEnd(11), formatBytes(o.sizeBytes).padStart(10), o.path].join('  '));
          if (objects.nextCursor) process.stderr.write(`more: media ls ${location} --cursor ${objects.nextCursor}\n`);
          return;
        }
        const page = await client.listAssets({
          q: opts.q,
          status: opts.status,
          mimeType: opts.mime,
          tag: opts.tag,
          owner: opts.owner,
          limit: opts.limit,
          cursor: opts.cursor,
        });
        if (opts.json) return ctx.out(JSON.stringify(page, null, 2));
        for (const a of page.items) ctx.out(row(a));
        if (page.nextCursor) process.stderr.write(`more: media ls --cursor ${page.nextCursor}\n`);
      },
    );

  program
    .command('get')
    .description('show one asset (JSON)')
    .argument('<id>', 'asset id')
    .action(async (id: string, _opts, cmd: Command) => {
      ctx.out(JSON.stringify(await clientFrom(cmd, ctx.signal).getAsset(id), null, 2));
    });

  program
    .command('download')
    .description("download an asset's bytes (verified against its SHA-256); prints the path")
    .argument('<id>', 'asset id')
    .option('-o, --output <file>', 'where to write (default: the asset file name, here); "-" for stdout')
    .action(async (id: string, opts: { output?: string }, cmd: Command) => {
      const client = clientFrom(cmd, ctx.signal);
      const toStdout = opts.output === '-';
      const asset = await client.getAsset(id);
      const dest = toStdout ? process.stdout : path.resolve(opts.output ?? (path.basename(asset.filename) || id));
      const reporter = reporterFrom(cmd);
      const task = reporter.start(asset.filename, asset.sizeBytes);
      try {
        await client.download(id, dest, { signal: ctx.signal, onProgress: (p) => task.update(p.loaded, 'downloading') });
        task.done('done');
      } catch (e) {
        task.fail();
        throw e;
      } finally {
        reporter.stop();
      }
      if (!toStdout) ctx.out(dest as string);
    });

  program
    .command('render')
    .description('render an image (resized, cropped, converted) or a video poster frame and save it; prints the path')
    .argument('<id>', 'asset id')
    .option('-o, --output <file>', 'where to write (default: <id>-render.<ext>, here); "-" for stdout')
    .option('-w, --width <px>', 'width in pixels', positiveInt('--width', 16384))
    .option('-H, --height <px>', 'height in pixels', positiveInt('--height', 16384))
    .addOption(new Option('--fit <fit>', 'how the image fills width × height').choices(['cover', 'contain', 'inside', 'fill']))
    .addOption(
      new Option('-f, --format <format>', 'output format (auto: AVIF, else WebP)').choices(['auto', 'avif', 'webp', 'jpeg', 'png']),
    )
    .option('-q, --quality <n>', 'encoder quality 1-100', positiveInt('--quality', 100))
    .option('--dpr <n>', 'device pixel ratio 1-3 (multiplies width and height)', (v: string) => Number(v))
    .option('--gravity <g>', 'anchor of cover/contain (center, north, …, attention for smart crop)')
    .option('--enlarge', 'allow output larger than the source')
    .option('--no-animated', 'first frame of an animated image only')
    .option('-t, --time <seconds>', 'videos: seconds into the video of the poster frame', (v: string) => Number(v))
    .option('-p, --preset <name>', 'a named rendition of the service (TRANSFORM_PRESETS)')
    .action(
      async (
        id: string,
        opts: {
          output?: string;
          width?: number;
          height?: number;
          fit?: 'cover' | 'contain' | 'inside' | 'fill';
          format?: 'auto' | 'avif' | 'webp' | 'jpeg' | 'png';
          quality?: number;
          dpr?: number;
          gravity?: string;
          enlarge?: boolean;
          animated: boolean;
          time?: number;
          preset?: string;
        },
        cmd: Command,
      ) => {
        const client = clientFrom(cmd, ctx.signal);
        const toStdout = opts.output === '-';
        const ext: Record<string, string> = { avif: 'avif', webp: 'webp', jpeg: 'jpg', png: 'png' };
        const dest = toStdout ? process.stdout : path.resolve(opts.output ?? `${id}-render.${ext[opts.format ?? ''] ?? 'img'}`);
        await client.render(id, dest, {
          width: opts.width,
          height: opts.height,
          fit: opts.fit,
          format: opts.format,
          quality: opts.quality,
          dpr: opts.dpr,
          gravity: opts.gravity as RenderOptions['gravity'],
          enlarge: opts.enlarge || undefined,
          animated: opts.animated ? undefined : false,
          t: opts.time,
          preset: opts.preset,
          signal: ctx.signal,
        });
        if (!toStdout) ctx.out(dest as string);
      },
    );

  program
    .command('rm')
    .description('delete assets by id, or every asset under --prefix in --bucket (batch deletes of up to 1000)')
    .argument('[ids...]', 'asset ids')
    .option('--bucket <name>', 'with --prefix: the bucket')
    .option('--prefix <prefix>', 'delete every asset whose path starts with this ("" for the whole bucket)')
    .action(async (ids: string[], opts: { bucket?: string; prefix?: string }, cmd: Command) => {
      const client = clientFrom(cmd, ctx.signal);
      if (opts.bucket !== undefined || opts.prefix !== undefined) {
        if (opts.bucket === undefined || opts.prefix === undefined || ids.length) {
          throw new UsageError('rm --bucket <name> --prefix <prefix> takes no ids (and needs both options)');
        }
        let failed = 0;
        let deleted = 0;
        for (;;) {
          // Always the first page: what was deleted is gone from the listing.
          const page = await client.listObjects(opts.bucket, { prefix: opts.prefix || undefined, limit: 1000 });
          const todo = page.items.filter((i) => i.status !== 'deleted');
          if (!todo.length) break;
          const results = await client.batchDelete({ ids: todo.map((i) => i.assetId) });
          for (const [k, r] of results.entries()) {
            if (r.status === 204) {
              deleted++;
              ctx.out(`deleted ${opts.bucket}/${todo[k].path}`);
            } else {
              failed++;
              process.stderr.write(`media: ${opts.bucket}/${todo[k].path}: ${r.status === 403 ? 'forbidden' : 'not found'}\n`);
            }
          }
          if (results.every((r) => r.status !== 204)) break; // nothing more this caller may delete
        }
        if (failed) throw new FailuresReported(`${failed} of ${failed + deleted} deletions failed`);
        return;
      }
      if (!ids.length) throw new UsageError('rm needs asset ids, or --bucket and --prefix');
      await eachId(ids, 'deletions', async (id) => {
        await client.deleteAsset(id);
        ctx.out(`deleted ${id}`);
      });
    });

  program
    .command('abort')
    .description('abandon multipart uploads: parts dropped, pending assets deleted, resume records removed')
    .argument('<ids...>', 'asset ids')
    .action(async (ids: string[], _opts, cmd: Command) => {
      const client = clientFrom(cmd, ctx.signal);
      await eachId(ids, 'aborts', async (id) => {
        await client.abortUpload(id);
        ctx.out(`aborted ${id}`);
      });
    });

  /** An asset given as an id, or as <bucket>/<path> (looked up in the bucket listing). */
  const resolveAsset = async (client: MediaClient, ref: string): Promise<string> => {
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref)) return ref;
    const { bucket, path: p } = splitLocation(ref, false);
    const page = await client.listObjects(bucket, { prefix: p, limit: 1 });
    const hit = page.items.find((i) => i.path === p.normalize('NFC'));
    if (!hit) throw new Error(`no asset at ${ref}`);
    return hit.assetId;
  };
  for (const [name, verb] of [
    ['cp', 'copy'],
    ['mv', 'move'],
  ] as const) {
    program
      .command(name)
      .description(
        name === 'cp'
          ? 'copy an asset to <bucket>/<path>: a new asset you own sharing the stored bytes (no bytes copied)'
          : 'move (rename) an asset to <bucket>/<path>; the bytes stay where they are',
      )
      .argument('<source>', 'asset id or <bucket>/<path>')
      .argument('<target>', '<bucket>/<path>')
      .action(async (source: string, target: string, _opts, cmd: Command) => {
        const client = clientFrom(cmd, ctx.signal);
        const id = await resolveAsset(client, source);
        const to = splitLocation(target, false);
        const asset = verb === 'copy' ? await client.copyAsset(id, to) : await client.moveAsset(id, to);
        ctx.out(`${asset.assetId}\t${asset.bucket}/${asset.path}`);
      });
  }

  program
    .command('share')
    .description('grant a permission on an asset: principal user:<id>, group:<name> or "*"; permission read, write or delete')
    .argument('<id>', 'asset id')
    .argument('<principal>', 'user:<id>, group:<name> or *')
    .argument('<permission>', 'read, write or delete')
    .action(async (id: string, principal: string, permission: string, _opts, cmd: Command) => {
      if (!(PERMISSIONS as readonly string[]).includes(permission))
        throw new UsageError(`permission must be one of ${PERMISSIONS.join(', ')}, got "${permission}"`);
      const acl = await clientFrom(cmd, ctx.signal).share(id, principal, permission as (typeof PERMISSIONS)[number]);
      for (const e of acl.entries) ctx.out(`${e.principal}\t${e.permission}`);
    });

  const keys = program.command('api-keys').description('manage API keys for back ends (they act as you, limited to their scopes)');
  keys
    .command('create')
    .description('create an API key and print it (shown this once: store it now)')
    .argument('<name>', 'what the key is for')
    .option('-s, --scope <scope>', 'read, write or admin (repeatable or comma-separated)', collect)
    .option('--expires-at <date>', 'ISO 8601 date-time when the key stops working (default: until revoked)')
    .option('--json', 'print the whole answer as JSON')
    .action(async (name: string, opts: { scope?: string[]; expiresAt?: string; json?: boolean }, cmd: Command) => {
      const scopes = opts.scope?.length ? opts.scope : ['read', 'write'];
      const bad = scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
      if (bad.length) throw new UsageError(`--scope must be one of ${API_KEY_SCOPES.join(', ')}, got "${bad.join(', ')}"`);
      const created = await clientFrom(cmd, ctx.signal).createApiKey({
        name,
        scopes: scopes as (typeof API_KEY_SCOPES)[number][],
        ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
      });
      ctx.out(opts.json ? JSON.stringify(created, null, 2) : created.key);
      if (!opts.json) process.stderr.write(`media: API key ${created.id} (${created.scopes.join(',')}) created; it is not shown again\n`);
    });
  keys
    .command('list')
    .description('list your API keys: id, prefix, scopes, created, expires, last used, revoked, name')
    .option('--json', 'print the list as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await clientFrom(cmd, ctx.signal).listApiKeys();
      if (opts.json) return ctx.out(JSON.stringify(list, null, 2));
      for (const k of list) {
        const cells = [
          k.id,
          k.prefix,
          k.scopes.join(','),
          k.createdAt,
          k.expiresAt ?? '-',
          k.lastUsedAt ?? '-',
          k.revokedAt ?? '-',
          k.name,
        ];
        ctx.out(cells.join('\t'));
      }
    });
  keys
    .command('revoke')
    .description('revoke API keys (refused everywhere at once)')
    .argument('<ids...>', 'API key ids')
    .action(async (ids: string[], _opts, cmd: Command) => {
      const client = clientFrom(cmd, ctx.signal);
      await eachId(ids, 'revocations', async (id) => {
        await client.revokeApiKey(id);
        ctx.out(`revoked ${id}`);
      });
    });

  return program;
}

/** `bucket/rest` → its parts (`rest` may be empty only where a prefix is allowed). */
export function splitLocation(location: string, prefixAllowed: boolean): { bucket: string; path: string } {
  const i = location.indexOf('/');
  const bucket = i < 0 ? location : location.slice(0, i);
  const rest = i < 0 ? '' : location.slice(i + 1);
  if (!bucket || (!prefixAllowed && !rest)) {
    throw new UsageError(`"${location}" must be <bucket>/${prefixAllowed ? '<prefix>' : '<path>'}`);
  }
  return { bucket, path: rest };
}

/** Failures already reported line by line on stderr: exit 1 without another message. */
export class FailuresReported extends Error {}
