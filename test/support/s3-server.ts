import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { S3StorageDriver } from '../../libs/storage/src/drivers/s3-storage.driver';

/**
 * The in-process S3 emulator for tests: @20minutes/s3rver 4.0.4 (verifies SigV4 signatures and
 * presigned-URL expiry). What it does NOT do (checked against its source and in
 * test/storage-s3.e2e-spec.ts): evaluate POST policies (no signature, expiry, content-length-range or
 * condition check on form uploads), verify x-amz-checksum-* values against the body, or refuse
 * unauthenticated requests (a request with no signature at all is served as if allowed).
 *
 * Four emulator bugs are patched here, in-process (see patchEmulator): its SigV4 canonical query
 * encoding (presigned GETs with a `filename*=UTF-8''…` disposition failed), `Range: bytes=0-0`
 * (served the whole object), ListObjectsV2 pagination (its DES continuation tokens fail on OpenSSL 3), and a
 * delete racing a PUT in the same key prefix (the new object was lost: its "directory" was removed recursively).
 * One missing operation is added: ListParts (GET ?uploadId), which the emulator answers 405 although it keeps
 * the parts (see addListParts). Still missing, and pinned as such in test/storage-s3.e2e-spec.ts:
 * AbortMultipartUpload (405) and ListMultipartUploads (501).
 */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  on(event: 'event', listener: (e: S3EmulatorEvent) => void): unknown;
  off(event: 'event', listener: (e: S3EmulatorEvent) => void): unknown;
  httpServer?: Server;
}

/** The notification the emulator emits in-process for each object change (S3 event format). */
export interface S3EmulatorEvent {
  Records: Array<{
    /** ObjectCreated:Put (PutObject), ObjectCreated:Post (form POST or multipart completion), ObjectCreated:Copy, ObjectRemoved:Delete */
    eventName: string;
    s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
  }>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

// The package ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver: S3rverConstructor = require('@20minutes/s3rver');

interface RouterLayer {
  path: string;
  stack: Array<(...args: unknown[]) => unknown>;
}

/**
 * Evaluates a copy of one emulator module with exact textual replacements (each must occur exactly
 * once, so an emulator upgrade makes this fail loudly instead of silently un-patching). Its requires
 * go through the same module registry as the emulator's own (jest's, under jest), so classes such as
 * S3Error and the account registry stay the very objects the emulator uses.
 */
function loadPatchedModule(modulePath: string, replacements: Array<[string, string]>): unknown {
  let source = readFileSync(modulePath, 'utf8');
  for (const [from, to] of replacements) {
    if (source.split(from).length !== 2) {
      throw new Error(`s3rver patch: expected exactly one "${from}" in ${modulePath}; review test/support/s3-server.ts`);
    }
    source = source.replace(from, to);
  }
  const dir = dirname(modulePath);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the patched module's own require()
  const localRequire = (id: string): unknown => (id.startsWith('.') ? require(resolve(dir, id)) : require(id));
  const mod: { exports: unknown } = { exports: {} };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function('exports', 'require', 'module', '__filename', '__dirname', source)(mod.exports, localRequire, mod, modulePath, dir);
  return mod.exports;
}

let emulatorPatched = false;

/**
 * Fixes two emulator bugs that would make a correct S3 client look broken (real S3 behaves as patched):
 *
 * 1. SigV4 canonical query string: values were encoded with encodeURIComponent, which leaves
 *    ! ' ( ) * as they are, where SigV4 (and the AWS SDK) percent-encode them. Any presigned GET with
 *    `response-content-disposition=…filename*=UTF-8''…` (or a filename with parentheses) got
 *    SignatureDoesNotMatch. The module already imports the RFC 3986 encoder; the patch uses it.
 * 2. Range `bytes=0-0` (first byte only): `options.end || Infinity` read end 0 as "to the end", so
 *    the whole object was sent. The patch treats only an absent end as open.
 */
function patchEmulator(): void {
  if (emulatorPatched) return;
  const authPath = require.resolve('@20minutes/s3rver/lib/middleware/authentication');
  const patchedAuth = loadPatchedModule(authPath, [
    ['[param, value].map(encodeURIComponent)', '[param, value].map(encodeURIComponentRFC3986)'],
  ]) as () => (...args: unknown[]) => unknown;
  // The router is a module singleton shared by every emulator instance; it looks the layer's stack up
  // on each request.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const router: { stack: RouterLayer[] } = require('@20minutes/s3rver/lib/routes');
  const layer = router.stack.find((l) => l.stack.some((fn) => fn.name === 'authentication'));
  if (!layer) throw new Error('s3rver patch: authentication middleware not found in the router');
  layer.stack = layer.stack.map((fn) => (fn.name === 'authentication' ? patchedAuth() : fn));

  const storePath = require.resolve('@20minutes/s3rver/lib/stores/filesystem');
  const PatchedStore = loadPatchedModule(storePath, [
    [
      'Math.min((options && options.end) || Infinity, lastByte)',
      'Math.min(options && options.end !== undefined ? options.end : Infinity, lastByte)',
    ],
    // 4. Deleting an object removed its parent directories once they looked empty (`readdirSync` then `fs.rm(dir,
    //    { recursive: true })`): a PUT into the same "directory" at that moment lost its freshly written object (200,
    //    then 404 on every read) or failed with 500. S3 has no directories; empty ones are left (listings skip them).
    ['      parts.length &&\n      !readdirSync(', '      false &&\n      !readdirSync('],
  ]) as { prototype: { getObject: unknown; deleteObject: unknown } };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Store: { prototype: { getObject: unknown; deleteObject: unknown } } = require('@20minutes/s3rver/lib/stores/filesystem');
  Store.prototype.getObject = PatchedStore.prototype.getObject;
  Store.prototype.deleteObject = PatchedStore.prototype.deleteObject;

  // 3. ListObjectsV2 continuation tokens are DES-encrypted, and Node 20's OpenSSL 3 has no single DES (legacy
  //    provider): every truncated listing answered 500 InternalError. 3DES with one key repeated is the same cipher.
  const bucketPath = require.resolve('@20minutes/s3rver/lib/controllers/bucket');
  const PatchedBucket = loadPatchedModule(bucketPath, [
    ["crypto.createCipheriv('des', key, iv)", "crypto.createCipheriv('des-ede3-cbc', Buffer.concat([key, key, key]), iv)"],
    ["crypto.createDecipheriv('des', key, iv)", "crypto.createDecipheriv('des-ede3-cbc', Buffer.concat([key, key, key]), iv)"],
  ]) as { getBucket: unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bucketCtrl: { getBucket: unknown } = require('@20minutes/s3rver/lib/controllers/bucket');
  bucketCtrl.getBucket = PatchedBucket.getBucket;

  addListParts(router);
  emulatorPatched = true;
}

/**
 * ListParts (GET /<bucket>/<key>?uploadId=…), which the emulator routes to "405 MethodNotAllowed". Its filesystem
 * store keeps each part as `<uploads>/<uploadId>/<n>` with the MD5 in `<n>.md5` (and the key in `key`); this answers
 * S3's ListPartsResult from those files (every part on one page), or NoSuchUpload. Runs after the emulator's own
 * authentication middleware, so the request's SigV4 signature is verified as for any other operation.
 */
function addListParts(router: { stack: Array<RouterLayer & { methods?: string[] }> }): void {
  const layer = router.stack.find((l) => l.path === '/:bucket/:key+' && (l.methods ?? []).includes('GET'));
  if (!layer) throw new Error('s3rver patch: GET object route not found in the router');
  type S3ErrorClass = new (code: string, message: string, detail?: Record<string, unknown>) => Error;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3Error = require('@20minutes/s3rver/lib/models/error') as S3ErrorClass;
  const original = layer.stack[layer.stack.length - 1];
  type Ctx = {
    params: { bucket: string; key: string; queryMethod?: string };
    query: Record<string, string>;
    store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
    body: unknown;
  };
  const listParts = async function listParts(ctx: Ctx) {
    const { readdir, readFile, stat } = await import('node:fs/promises');
    const uploadId = String(ctx.query.uploadId ?? '');
    const dir = join(ctx.store.getResourcePath(ctx.params.bucket, undefined, 'uploads'), uploadId);
    let key: string;
    try {
      if (!/^[0-9a-f]+$/.test(uploadId)) throw new Error('bad id');
      key = (await readFile(join(dir, 'key'))).toString();
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    }
    if (key !== ctx.params.key) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    const numbers = (await readdir(dir))
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
    const parts = [];
    for (const n of numbers) {
      try {
        const [md5, st] = await Promise.all([readFile(join(dir, `${n}.md5`)), stat(join(dir, String(n)))]);
        parts.push({ PartNumber: n, LastModified: st.mtime.toISOString(), ETag: JSON.stringify(md5.toString()), Size: st.size });
      } catch {
        // a part still being written (its .md5 comes last)
      }
    }
    ctx.body = {
      ListPartsResult: {
        Bucket: ctx.params.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumberMarker: 0,
        NextPartNumberMarker: parts.length ? parts[parts.length - 1].PartNumber : 0,
        MaxParts: 10000,
        IsTruncated: false,
        ...(parts.length ? { Part: parts } : {}),
      },
    };
  };
  layer.stack = [
    ...layer.stack.slice(0, -1),
    (...args: unknown[]) => ((args[0] as Ctx).params.queryMethod === 'uploadId' ? listParts(args[0] as Ctx) : original(...args)),
  ];
}

export interface S3TestServer {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** The emulator's storage directory (removed by stop()). */
  directory: string;
  accessKeyId: 'S3RVER';
  secretAccessKey: 'S3RVER';
  /** Subscribes to the emulator's object events; returns the unsubscribe function. */
  onEvent(listener: (e: S3EmulatorEvent) => void): () => void;
  /**
   * Closes the server (dropping open connections) and removes its directory, unless `keepData` (default: true
   * for a directory passed in the options) keeps it for a restart. Idempotent.
   */
  stop: (opts?: { keepData?: boolean }) => Promise<void>;
}

/** The service settings for the s3 driver against this emulator's `bucket` (spread into startApp's env). */
export function s3ServiceEnv(
  s3: Pick<S3TestServer, 'endpoint' | 'accessKeyId' | 'secretAccessKey'>,
  bucket: string,
): Record<string, string> {
  return {
    STORAGE_DRIVER: 's3',
    STORAGE_BUCKET: bucket,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

export interface S3TestServerOptions {
  /** Buckets created before the server answers; default ['media-test']. */
  buckets?: string[];
  /**
   * Origins the buckets' CORS rule allows (GET/PUT/POST/HEAD, any header, ETag exposed); default ['*'].
   * [] starts the buckets with no CORS configuration at all (e.g. for the service to apply its own).
   */
  corsOrigins?: string[];
  /** Listen on this port instead of an ephemeral one (to bring a stopped server back where it was). */
  port?: number;
  /**
   * Serve this existing directory (e.g. the `directory` of a server that was stopped with keepData) instead
   * of a fresh one. A directory given here is left in place by stop() unless stop({ keepData: false }).
   */
  directory?: string;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function corsXml(origins: string[]): string {
  return [
    '<CORSConfiguration>',
    '<CORSRule>',
    ...origins.map((o) => `<AllowedOrigin>${escapeXml(o)}</AllowedOrigin>`),
    ...['GET', 'PUT', 'POST', 'HEAD'].map((m) => `<AllowedMethod>${m}</AllowedMethod>`),
    '<AllowedHeader>*</AllowedHeader>',
    '<ExposeHeader>ETag</ExposeHeader>',
    '<MaxAgeSeconds>300</MaxAgeSeconds>',
    '</CORSRule>',
    '</CORSConfiguration>',
  ].join('');
}

/** Starts the emulator on 127.0.0.1 (ephemeral port) over a fresh temporary directory. */
export async function startS3Server(opts: S3TestServerOptions = {}): Promise<S3TestServer> {
  patchEmulator();
  const buckets = opts.buckets ?? ['media-test'];
  const origins = opts.corsOrigins ?? ['*'];
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), 's3rver-test-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: opts.port ?? 0,
    silent: true,
    directory,
    resetOnClose: false,
    allowMismatchedSignatures: false,
    // Path-style only: never treat a Host header as a bucket name.
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name, configs: origins.length ? [corsXml(origins)] : [] })),
  });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    if (!opts.directory) await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const port = address.port;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    onEvent(listener) {
      server.on('event', listener);
      return () => void server.off('event', listener);
    },
    stop({ keepData = opts.directory !== undefined } = {}) {
      stopped ??= (async () => {
        const closing = server.close();
        // Keep-alive sockets (SDK agent, fetch) would otherwise hold close() open.
        server.httpServer?.closeAllConnections();
        await closing;
        if (!keepData) await rm(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** An S3StorageDriver talking to the emulator with its fixed credentials. */
export function s3DriverFor(
  server: Pick<S3TestServer, 'endpoint' | 'accessKeyId' | 'secretAccessKey'>,
  bucket: string,
  overrides: { requestTimeoutMs?: number } = {},
): S3StorageDriver {
  return new S3StorageDriver({
    bucket,
    region: 'us-east-1',
    endpoint: server.endpoint,
    forcePathStyle: true,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    requestTimeoutMs: overrides.requestTimeoutMs ?? 2000,
  });
}
