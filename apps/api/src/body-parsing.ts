import { Transform, type Readable } from 'node:stream';
import { ExecutionContext, RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuthGuard, authenticateBearer, Errors, JSON_BODY_LIMIT_CONFIG, jsonBodyParser, JwtService } from '@app/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Request bodies of the API's routes (the Nest controllers):
 * - `application/json` goes through jsonBodyParser (nesting depth limit, prototype-poisoning protection); forms
 *   (`application/x-www-form-urlencoded`) through Nest's own parser;
 * - at most `bodyLimit` bytes (JSON_BODY_LIMIT_BYTES), or a route's own JsonBodyLimit when larger; a larger body is
 *   answered 413 naming the limit: from Content-Length before a byte is read, else as soon as the limit is passed;
 * - a route that requires a bearer token answers 401 to a request with a body before reading it when the
 *   Authorization header is missing or does not verify (the global guard would refuse it anyway, after the parse).
 * Routes that are not controllers (signed local-storage URLs, tus, Bull Board) are left alone: they stream their
 * bodies or have no body, and check their callers themselves.
 * Call before the app is initialised (Nest registers its parsers at init unless they are registered already).
 */
export function installBodyParsing(app: NestFastifyApplication, adapter: FastifyAdapter, opts: { bodyLimit: number }): void {
  const fastify = adapter.getInstance<FastifyInstance>();
  const jwt = app.get(JwtService);
  adapter.registerParserMiddleware();
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, jsonBodyParser(fastify));

  fastify.addHook('onRoute', (route) => {
    const own = (route.config as Record<string, unknown> | undefined)?.[JSON_BODY_LIMIT_CONFIG];
    if (typeof own === 'number' && own > opts.bodyLimit) route.bodyLimit = own;
  });

  const needsToken = controllerRoutes(app, jwt);
  type Done = (err: Error | null, payload?: Readable) => void;
  fastify.addHook('preParsing', (req: FastifyRequest, reply: FastifyReply, payload: Readable, done: Done) => {
    if (req.method === 'GET' || req.method === 'HEAD' || !hasBody(req)) return done(null, payload);
    const tokenRequired = needsToken.get(`${req.method} ${req.routeOptions.url}`);
    if (tokenRequired === undefined) return done(null, payload); // not a controller route
    const limit = req.routeOptions.bodyLimit;
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    try {
      if (tokenRequired) authenticateBearer(jwt, req.headers.authorization);
      if (length !== undefined && length > limit) throw tooLarge(limit);
    } catch (e) {
      reply.header('connection', 'close'); // the unread body is not waited for
      return done(e as Error);
    }
    done(null, length === undefined ? capped(payload, limit) : payload);
  });
}

function hasBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

const tooLarge = (limit: number) =>
  Errors.payloadTooLarge(`Request body is larger than ${limit} bytes, the most this route accepts`, { limit });

/** A body without Content-Length (chunked): fails with the 413 above as soon as more than `limit` bytes arrived. */
function capped(payload: Readable, limit: number): Readable {
  let received = 0;
  const out = new Transform({
    transform(chunk: Buffer, _encoding, cb) {
      received += chunk.length;
      cb(received > limit ? tooLarge(limit) : null, received > limit ? undefined : chunk);
    },
  });
  payload.on('error', (e) => out.destroy(e));
  return payload.pipe(out);
}

/**
 * `METHOD /path` of every controller route → whether it requires a bearer token, asked of the AuthGuard itself
 * (a route it lets in without an Authorization header is @Public() or @OptionalAuth()).
 */
function controllerRoutes(app: NestFastifyApplication, jwt: JwtService): Map<string, boolean> {
  const guard = new AuthGuard(app.get(Reflector), jwt);
  const scanner = new MetadataScanner();
  const routes = new Map<string, boolean>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller?.prototype) continue;
      const controllerPaths = asList(Reflect.getMetadata(PATH_METADATA, controller));
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of scanner.getAllMethodNames(proto)) {
        const handler = (Object.getOwnPropertyDescriptor(proto, name)?.value ?? proto[name]) as () => unknown;
        const methodPaths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        if (methodPaths === undefined || method === undefined) continue;
        const tokenRequired = !anonymousAllowed(guard, handler, controller);
        for (const c of controllerPaths) for (const m of asList(methodPaths)) routes.set(`${method} ${joinPath(c, m)}`, tokenRequired);
      }
    }
  }
  return routes;
}

function anonymousAllowed(guard: AuthGuard, handler: () => unknown, controller: Type): boolean {
  const ctx = {
    getHandler: () => handler,
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => ({ headers: {} }) }),
  } as unknown as ExecutionContext;
  try {
    return guard.canActivate(ctx) === true;
  } catch {
    return false;
  }
}

const asList = (v: unknown): string[] => (v === undefined ? ['/'] : Array.isArray(v) ? v.map(String) : [String(v)]);
const joinPath = (...parts: string[]) =>
  `/${parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/')}`;
