import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ErrorCode, ProblemDetails } from './error-codes';

export interface ProblemBody {
  statusCode: number;
  error: string;
  message: string;
  details?: ProblemDetails;
}

/** Postgres/driver failures that mean "the database is not there right now", not "your request is bad". */
const UNAVAILABLE_PG_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '53300', '57014']);
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']);

const HTTP_CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.InvalidRequest,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  416: ErrorCode.RangeNotSatisfiable,
  429: ErrorCode.RateLimited,
  503: ErrorCode.ServiceUnavailable,
};

/**
 * Fastify's `frameworkErrors` (errors raised before routing: a path parameter over maxParamLength → 414, a malformed
 * URL → 400): the problem body, like every other error.
 */
export function sendFrameworkError(err: Error, _req: FastifyRequest, reply: FastifyReply): void {
  const body = toProblem(err);
  void reply.status(body.statusCode).type('application/json; charset=utf-8').send(body);
}

/** Maps anything thrown to the one problem body. Unknown errors are logged and become a bare 500. */
export function toProblem(err: unknown): ProblemBody {
  if (err instanceof AppError) {
    return {
      statusCode: err.statusCode,
      error: err.code,
      message: err.message,
      ...(err.details !== undefined ? { details: err.details } : {}),
    };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse() as string | { status?: unknown; details?: unknown; message?: string | string[] };
    // Terminus readiness failures: keep every indicator's state under `details`.
    if (res && typeof res === 'object' && res.status === 'error' && res.details) {
      const down = Object.entries(res.details as Record<string, { status: string }>)
        .filter(([, v]) => v?.status !== 'up')
        .map(([k]) => k);
      return {
        statusCode: status,
        error: HTTP_CODE_BY_STATUS[status] ?? `Http${status}`,
        message: `Not ready: ${down.join(', ')} down`,
        details: res.details as ProblemDetails,
      };
    }
    const message = typeof res === 'string' ? res : Array.isArray(res?.message) ? res.message.join('; ') : (res?.message ?? err.message);
    return { statusCode: status, error: HTTP_CODE_BY_STATUS[status] ?? `Http${status}`, message: String(message) };
  }
  const e = err as { statusCode?: number; code?: string; message?: string; name?: string; driverError?: { code?: string } };
  // Fastify's own errors (bad JSON, body too large, unsupported content type) carry a 4xx statusCode.
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    let message = e.message ?? 'Bad request';
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') message = `Unsupported Content-Type; send application/json`;
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = 'Request body is too large';
    if (e.code === 'FST_ERR_MAX_PARAM_LENGTH') message = 'A path parameter is longer than the router accepts (100 characters)';
    if (e.code === 'FST_ERR_BAD_URL') message = 'The URL is malformed (bad percent-encoding)';
    if (e.name === 'SyntaxError' || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') message = `Body is not valid JSON: ${e.message}`;
    return { statusCode: e.statusCode, error: HTTP_CODE_BY_STATUS[e.statusCode] ?? ErrorCode.InvalidRequest, message };
  }
  // Storage and timeouts are named errors from other libs (core does not import them).
  if (e?.name === 'StorageUnavailableError') {
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: ErrorCode.StorageUnavailable,
      message: 'Object storage is unavailable; retry shortly',
    };
  }
  if (e?.name === 'TimeoutError') {
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: ErrorCode.ServiceUnavailable,
      message: 'A backing service did not answer in time; retry shortly',
    };
  }
  const pgCode = e?.driverError?.code ?? e?.code;
  if (
    (pgCode && (UNAVAILABLE_PG_CODES.has(pgCode) || UNAVAILABLE_NODE_CODES.has(pgCode))) ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Connection is closed|Client has encountered a connection error/i.test(
      e?.message ?? '',
    )
  ) {
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: ErrorCode.ServiceUnavailable,
      message: 'A backing service is unavailable; retry shortly',
    };
  }
  return { statusCode: 500, error: ErrorCode.InternalError, message: 'Internal server error' };
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const req = host.switchToHttp().getRequest<FastifyRequest>();
    const body = toProblem(err);
    if (body.statusCode >= 500) {
      this.logger.error({ err, reqId: req?.id, route: req?.routeOptions?.url }, `${req?.method} ${req?.routeOptions?.url ?? ''} failed`);
    }
    if (reply.sent) return;
    // A 503 says when to come back: the error's own hint (e.g. a full render queue), else 5 s.
    if (body.statusCode === 503) reply.header('retry-after', String(retryAfterOf(err) ?? 5));
    reply.status(body.statusCode).type('application/json; charset=utf-8').send(body);
  }
}

function retryAfterOf(err: unknown): number | undefined {
  const d = err instanceof AppError ? (err.details as { retryAfterSeconds?: unknown } | undefined) : undefined;
  return typeof d?.retryAfterSeconds === 'number' && d.retryAfterSeconds > 0 ? Math.ceil(d.retryAfterSeconds) : undefined;
}
