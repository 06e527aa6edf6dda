import { LoggerService } from '@nestjs/common';
import pino, { Logger } from 'pino';

/** Query strings are dropped from logged URLs: signed URLs carry credentials there. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  const i = url.indexOf('?');
  return i < 0 ? url : `${url.slice(0, i)}?[redacted]`;
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'media-storage' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', '*.jwtSecret', '*.JWT_SECRET', '*.password'],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: any) => ({ id: req.id, method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }),
      err: pino.stdSerializers.err,
    },
  });
}

/** Routes Nest's own logging into the same JSON stream. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}
  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace', message: unknown, rest: unknown[]) {
    const context = rest.length && typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    if (message && typeof message === 'object' && !(message instanceof Error)) {
      this.pino[level]({ context, ...(message as object) }, (rest.length > 1 ? String(rest[0]) : undefined) as string);
    } else if (message instanceof Error) {
      this.pino[level]({ context, err: message }, message.message);
    } else {
      this.pino[level]({ context }, String(message));
    }
  }
  log(message: unknown, ...rest: unknown[]) { this.write('info', message, rest); }
  error(message: unknown, ...rest: unknown[]) { this.write('error', message, rest.filter((r) => typeof r !== 'string' || !r.includes('\n    at '))); }
  warn(message: unknown, ...rest: unknown[]) { this.write('warn', message, rest); }
  debug(message: unknown, ...rest: unknown[]) { this.write('debug', message, rest); }
  verbose(message: unknown, ...rest: unknown[]) { this.write('trace', message, rest); }
}
