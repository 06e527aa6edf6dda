import { Transform, type Readable } from 'node:stream';
import { RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import type { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuthGuard, Authenticator, Errors, JSON_BODY_LIMIT_CONFIG, jsonBodyParser } from '@app/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Request bodies of the API's routes (the Nest controllers):
 * - `application/json` goes through jsonBodyParser (nesting depth limit, prototype-poisoning protection); forms
 *   (`application/x-www-form-urlencoded`) through Nest's own parser;
 * - at most `bodyLimit` bytes (JSON_BODY_LIMIT_BYTES), or a route's own JsonBodyLimit when larger; a larger body is
 *   answered 413 naming the limit: from Content-Length before a byte is read, else as soon as the limit is passed;
 * - a route that requires credentials answers 401 to a request with a body before reading it when it carries none
 *   or they do not verify (a bearer JWT or an API key; the global guard would refuse it anyway, after the parse).
 * Routes that are not controllers (signed local-storage URLs, tus, Bull Board) are left alone: they stream their
 * bodies or have no body, and check their callers themselves.
 * Call before the app is initialised (Nest registers its parsers at init unless they are registered already).
 */
export function installBodyParsing(app: NestFastifyApplication, adapter: FastifyAdapter, opts: { bodyLimit: number }): void {
  const fastify = adapter.getInstance<FastifyInstance>();
  const auth = app.get(Authenticator);
  adapter.registerParserMiddleware();
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, jsonBodyParser(fastify));

  fastify.addHook('onRoute', (route) => {
    const own = (route.config as Record<string, unknown> | undefined)?.[JSON_BODY_LIMIT_CONFIG];
    if (typeof own === 'number' && own > opts.bodyLimit) route.bodyLimit = own;
  });

  const needsToken = controllerRoutes(app, auth);
  fastify.addHook('preParsing', async (req: FastifyRequest, reply: FastifyReply, payload: Readable) => {
    if (req.method === 'GET' || req.method === 'HEAD' || !hasBody(req)) return payload;
    const tokenRequired = needsToken.get(`${req.method} ${req.routeOptions.url}`);
    if (tokenRequired === undefined) return payload; // not a controller route
    const limit = req.routeOptions.bodyLimit;
    const length = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    try {
      if (tokenRequired) await auth.require(req.headers);
      if (length !== undefined && length > limit) throw tooLarge(limit);
    } catch (e) {
      reply.header('connection', 'close'); // the unread body is not waited for
      throw e;
    }
    return length === undefined ? capped(payload, limit) : payload;
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
 * `METHOD /path` of every controller route → whether it requires credentials, asked of the AuthGuard itself
 * (a route it lets in without an Authorization header is @Public() or @OptionalAuth()).
 */
function controllerRoutes(app: NestFastifyApplication, auth: Authenticator): Map<string, boolean> {
  const guard = new AuthGuard(app.get(Reflector), auth);
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
        const tokenRequired = !guard.admitsAnonymous(handler, controller);
        for (const c of controllerPaths) for (const m of asList(methodPaths)) routes.set(`${method} ${joinPath(c, m)}`, tokenRequired);
      }
    }
  }
  return routes;
}

const asList = (v: unknown): string[] => (v === undefined ? ['/'] : Array.isArray(v) ? v.map(String) : [String(v)]);
const joinPath = (...parts: string[]) =>
  `/${parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/')}`;
