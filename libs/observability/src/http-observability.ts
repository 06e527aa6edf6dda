import { randomUUID } from 'node:crypto';
import { assertScope, Authenticator, Errors, MetricsService, ObservabilityConfig, runInContext, saneRequestId, toProblem } from '@app/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { BULL_BOARD_ROUTE, UNMATCHED_ROUTE } from './observability.constants';

const BOARD = Symbol('bullBoard');
type Req = FastifyRequest & { [BOARD]?: boolean };

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Fastify `genReqId`: a sane incoming X-Request-Id (1–128 of letters, digits, `._:-`) is kept, anything else is
 * replaced by a fresh UUID. Pass with `requestIdHeader: false` so Fastify does not take the header as-is.
 */
export function requestIdOf(req: IncomingMessage): string {
  return saneRequestId(req.headers['x-request-id']) ?? randomUUID();
}

/** The Content-Security-Policy of Bull Board's pages (the JSON API's strict one would block its inline script and styles). */
const BOARD_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; " +
  "font-src 'self' data: https://fonts.gstatic.com; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'";

export function isBullBoardRoute(routeUrl: string | undefined): boolean {
  return !!routeUrl && (routeUrl === BULL_BOARD_ROUTE || routeUrl.startsWith(`${BULL_BOARD_ROUTE}/`));
}

/**
 * Root-level Fastify hooks (call before the app is initialised, so every route, Nest's and plugins', gets them):
 * - request context: the request id is echoed in `X-Request-Id` and is the current context (AsyncLocalStorage)
 *   for everything the request runs, so every log line carries it (and outbox messages and jobs inherit it);
 * - HTTP metrics by route template (never the raw URL);
 * - Bull Board: 401 without a valid token or API key, 403 without the admin role (or the key without the admin scope) (its routes are not Nest controllers).
 */
export function installHttpObservability(
  fastify: FastifyInstance,
  deps: { metrics: MetricsService; auth: Authenticator; config: Pick<ObservabilityConfig, 'METRICS_ENABLED' | 'BULL_BOARD_ENABLED'> },
): void {
  // Request context, entered in onRequest for the rest of the lifecycle (Fastify runs body parsing in the
  // request's async resource, so a handler of a request with a body still sees it; see the unit spec).
  fastify.addHook('onRequest', (req: FastifyRequest, reply, done) => {
    reply.header('x-request-id', req.id);
    runInContext({ requestId: req.id, assetParts: new Map() }, done);
  });

  if (deps.config.METRICS_ENABLED) {
    fastify.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done) => {
      const route = req.routeOptions?.url ?? UNMATCHED_ROUTE;
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      deps.metrics.observeHttp(method, route, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }

  if (deps.config.BULL_BOARD_ENABLED) {
    fastify.addHook('onRequest', async (req: Req, reply: FastifyReply) => {
      if (!isBullBoardRoute(req.routeOptions?.url)) return;
      req[BOARD] = true;
      try {
        const principal = await deps.auth.require(req.headers);
        assertScope(principal, 'admin');
        if (!principal.isAdmin) throw Errors.forbidden('The queue dashboard needs the "admin" role');
      } catch (e) {
        const problem = toProblem(e);
        return reply.code(problem.statusCode).type('application/json; charset=utf-8').send(problem);
      }
    });
    fastify.addHook('onSend', async (req: Req, reply: FastifyReply, payload: unknown) => {
      if (req[BOARD] && reply.statusCode < 400) reply.header('content-security-policy', BOARD_CSP);
      return payload;
    });
  }
}
