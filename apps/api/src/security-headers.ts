import type { FastifyInstance } from 'fastify';

// helmet itself, as @fastify/helmet (our dependency) resolves it: the same version the plugin would run.
type Helmet = (options?: object) => (req: unknown, res: unknown, next: (err?: Error) => void) => void;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a path resolved at run time: import cannot name it
const helmet = require(require.resolve('helmet', { paths: [require.resolve('@fastify/helmet')] })) as Helmet;

/**
 * The headers helmet sets with these options, computed once. They do not depend on the request (no CSP nonces),
 * while @fastify/helmet builds helmet's whole middleware chain again for every request (about 6% of the CPU of a
 * cached GET /media/{id} in our profiles).
 */
export function helmetHeaders(options: object = {}): [string, string][] {
  const headers = new Map<string, string>();
  const res = {
    setHeader: (k: string, v: unknown) => headers.set(k.toLowerCase(), String(v)),
    removeHeader: (k: string) => headers.delete(k.toLowerCase()),
    getHeader: (k: string) => headers.get(k.toLowerCase()),
  };
  let done = false;
  helmet(options)({ headers: {} }, res, (err?: Error) => {
    if (err) throw err;
    done = true;
  });
  if (!done) throw new Error('helmet did not finish synchronously');
  return [...headers];
}

/**
 * Security headers on every response (HSTS, nosniff, frame-ancestors, a strict CSP for the JSON API), set on the
 * raw response at onRequest like @fastify/helmet does, so routes that take over the reply keep them too.
 */
export function installSecurityHeaders(fastify: FastifyInstance, options: object = {}): void {
  const headers = helmetHeaders(options);
  fastify.addHook('onRequest', (_req, reply, done) => {
    const raw = reply.raw;
    for (const [k, v] of headers) raw.setHeader(k, v);
    done();
  });
}
