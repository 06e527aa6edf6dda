import { LoggerService } from '@nestjs/common';
import pino, { Bindings, ChildLoggerOptions, Logger } from 'pino';
import { currentContext } from '../observability/request-context';

/** Marks Fastify's per-request child loggers: they carry `reqId` in their bindings already. */
const BOUND_TO_REQUEST = Symbol('boundToRequest');

/** Fastify `childLoggerFactory`: the usual child (bindings hold `reqId`), marked so the mixin does not repeat it. */
export function requestChildLogger(logger: Logger, bindings: Bindings, opts: ChildLoggerOptions): Logger {
  const child = logger.child(bindings, opts);
  (child as unknown as Record<symbol, boolean>)[BOUND_TO_REQUEST] = true;
  return child;
}

/** Adds the current request id (and job) to every line written inside a request or a job (see request-context.ts). */
function contextMixin(_obj: object, _level: number, logger: Logger): object {
  const ctx = currentContext();
  if (!ctx) return {};
  const out: Record<string, string> = {};
  if (ctx.requestId && !(logger as unknown as Record<symbol, boolean>)[BOUND_TO_REQUEST]) out.reqId = ctx.requestId;
  if (ctx.queue) out.queue = ctx.queue;
  if (ctx.jobId) out.jobId = ctx.jobId;
  return out;
}

/** Query strings are dropped from logged URLs: signed URLs carry credentials there. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  const i = url.indexOf('?');
  return i < 0 ? url : `${url.slice(0, i)}?[redacted]`;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'media-storage' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: contextMixin,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-api-key"]',
          'headers.authorization',
          'headers["x-api-key"]',
          '*.headers.authorization',
          '*.headers["x-api-key"]',
          '*.jwtSecret',
          '*.JWT_SECRET',
          '*.password',
        ],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: { id: string; method: string; url: string; ip: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.ip,
        }),
        err: pino.stdSerializers.err,
      },
    },
    destination,
  );
}

/** Routes Nest's own logging into the same JSON stream. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}
  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace', message: unknown, rest: unknown[]) {
    const context = rest.length && typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    if (message && typeof message === 'object' && !(message instanceof Error)) {
      this.pino[level]({ context, ...message }, (rest.length > 1 ? String(rest[0]) : undefined) as string);
    } else if (message instanceof Error) {
      this.pino[level]({ context, err: message }, message.message);
    } else {
      this.pino[level]({ context }, String(message));
    }
  }
  log(message: unknown, ...rest: unknown[]) {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write(
      'error',
      message,
      rest.filter((r) => typeof r !== 'string' || !r.includes('\n    at ')),
    );
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.write('trace', message, rest);
  }
}
