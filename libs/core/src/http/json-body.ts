import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyBodyParser, FastifyInstance } from 'fastify';
import { Errors } from '../errors/error-codes';

/** Arrays and objects inside each other, at most; the deepest valid request body of the API is 3 levels deep. */
export const MAX_JSON_DEPTH = 32;

/** Key of the Fastify route config that carries a route's own body limit (see JsonBodyLimit). */
export const JSON_BODY_LIMIT_CONFIG = 'jsonBodyLimit';

/**
 * The route accepts request bodies up to `bytes` (instead of JSON_BODY_LIMIT_BYTES, when larger): for routes whose
 * largest valid body is bigger than the default limit. The bootstrap turns it into the route's Fastify bodyLimit.
 */
export const JsonBodyLimit = (bytes: number) => RouteConfig({ [JSON_BODY_LIMIT_CONFIG]: bytes });

/**
 * True when the JSON `text` (a string, or its UTF-8 bytes) nests arrays/objects deeper than `maxDepth`. One pass,
 * stopping at the first level too deep; brackets inside strings are skipped; no allocation. On bytes it reads the
 * UTF-8 directly (the bytes of multi-byte characters are never ASCII). Exact for valid JSON; for any text, a parser
 * reading it left to right meets a syntax error before it gets deeper than this count, so a text that passes
 * cannot be nested deeper.
 */
export function jsonNestsDeeperThan(text: string | Uint8Array, maxDepth: number): boolean {
  const bytes = typeof text !== 'string';
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = bytes ? text[i] : text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/**
 * The `application/json` body parser (register with `parseAs: 'buffer'`: a refused body is never decoded): an empty
 * body is "no body" (many generated clients and HTTP libraries send `Content-Type: application/json` without one;
 * Fastify's own parser would answer FST_ERR_CTP_EMPTY_JSON_BODY) — a route that needs a body says so (the validation pipe, apps/api/src/bootstrap.ts);
 * refuses nesting deeper than `maxDepth` with a 400 naming the limit before anything recursive sees the body, then
 * parses with Fastify's default JSON parser (secure-json-parse: `__proto__` and `constructor.prototype` keys are
 * refused with a 400).
 */
export function jsonBodyParser(
  fastify: Pick<FastifyInstance, 'getDefaultJsonParser'>,
  maxDepth = MAX_JSON_DEPTH,
): FastifyBodyParser<Buffer> {
  const parse = fastify.getDefaultJsonParser('error', 'error');
  return (req, body, done) => {
    if (body.length === 0) {
      done(null, undefined);
      return;
    }
    if (jsonNestsDeeperThan(body, maxDepth)) {
      const message = `Body is nested too deeply: arrays and objects may be nested at most ${maxDepth} levels deep`;
      done(Errors.invalid(message, { limit: maxDepth }), undefined);
      return;
    }
    void parse(req, body as unknown as string, done); // typed for strings; secure-json-parse takes the bytes as they are
  };
}
