import { applyDecorators, ExecutionContext, Inject, Injectable, Logger, UseGuards } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, ThrottlerLimitDetail, ThrottlerModuleOptions } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ScriptedThrottlerStorage } from './throttler-storage';
import type Redis from 'ioredis';
import { REDIS_CONFIG, RedisConfig, SECURITY_CONFIG, SecurityConfig } from '../config/config-sections';
import { AppError, ErrorCode } from '../errors/error-codes';
import { REDIS_COUNTERS } from '../redis/redis.module';
import { ApiDefaultProblem } from '../openapi/api-problems';

export const UPLOAD_URL_THROTTLER = 'upload-url';

type LimitSettings = Pick<SecurityConfig, 'RATE_LIMIT_UPLOAD_URLS_PER_MINUTE' | 'API_KEY_RATE_LIMIT_PER_MINUTE'>;
type Caller = { userId: string; apiKey?: { id: string } };

/**
 * Who a limit counts: an API key by itself (its own budget, API_KEY_RATE_LIMIT_PER_MINUTE), a user by its JWT `sub`
 * (RATE_LIMIT_UPLOAD_URLS_PER_MINUTE), an anonymous caller by its IP.
 */
export function rateLimitTracker(principal: Caller | undefined, ip?: string): string {
  if (principal?.apiKey) return `key:${principal.apiKey.id}`;
  return principal ? `user:${principal.userId}` : `ip:${ip}`;
}

function limitFor(security: LimitSettings, principal: Caller | undefined): number {
  return principal?.apiKey ? security.API_KEY_RATE_LIMIT_PER_MINUTE : security.RATE_LIMIT_UPLOAD_URLS_PER_MINUTE;
}

/** Limits per caller (see rateLimitTracker), counted in Redis so all replicas share them. */
export function rateLimitOptions(
  security: LimitSettings,
  redisConfig: Pick<RedisConfig, 'REDIS_KEY_PREFIX'>,
  redis: Redis,
): ThrottlerModuleOptions {
  const principalOf = (ctx: ExecutionContext) => ctx.switchToHttp().getRequest<{ principal?: Caller }>().principal;
  return {
    throttlers: [{ name: UPLOAD_URL_THROTTLER, ttl: UPLOAD_URL_WINDOW_MS, limit: (ctx) => limitFor(security, principalOf(ctx)) }],
    storage: new ScriptedThrottlerStorage(redis),
    getTracker: (req: { principal?: Caller; ip?: string }) => rateLimitTracker(req.principal, req.ip),
    generateKey: (_ctx: ExecutionContext, tracker: string, name: string) => throttleKey(redisConfig, name, tracker),
  };
}

const UPLOAD_URL_WINDOW_MS = 60_000;

function throttleKey(redisConfig: Pick<RedisConfig, 'REDIS_KEY_PREFIX'>, name: string, tracker: string): string {
  return `${redisConfig.REDIS_KEY_PREFIX}:throttle:${name}:${tracker}`;
}

function limitMessage(limit: number, ttlMs: number, retryInSeconds: number): string {
  return `Too many requests: at most ${limit} per ${Math.round(ttlMs / 1000)} s for this caller; retry in ${retryInSeconds} s`;
}

/**
 * One hit of `key` in a fixed window counted in Redis (the throttler's own storage and script, so every replica
 * shares the count); past `limit` a 429 RateLimited whose message `message(retryInSeconds)` gives. Fails open (logs,
 * lets the request through) when Redis cannot be asked: a limit must not turn a Redis outage into an API outage.
 */
export async function countHit(
  storage: ThrottlerStorageRedisService,
  p: { key: string; name: string; limit: number; windowMs: number; log: Logger; message: (retryInSeconds: number) => string },
): Promise<void> {
  let r;
  try {
    r = await storage.increment(p.key, p.windowMs, p.limit, p.windowMs, p.name);
  } catch (e) {
    p.log.warn(`${p.name} rate limit not checked (Redis unavailable): ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  if (r.isBlocked || r.totalHits > p.limit) {
    throw new AppError(ErrorCode.RateLimited, p.message(r.timeToBlockExpire || r.timeToExpire), { limit: p.limit });
  }
}

/**
 * The upload-url limit for entry points that are not Nest routes (tus creation): the same counter in Redis, so
 * a caller's new uploads per minute are limited whichever way they start. Fails open like the guard.
 */
@Injectable()
export class UploadCreationLimiter {
  private readonly log = new Logger('RateLimit');
  private readonly storage: ThrottlerStorageRedisService;

  constructor(
    @Inject(SECURITY_CONFIG) private readonly security: SecurityConfig,
    @Inject(REDIS_CONFIG) private readonly redisConfig: RedisConfig,
    @Inject(REDIS_COUNTERS) redis: Redis,
  ) {
    this.storage = new ScriptedThrottlerStorage(redis);
  }

  /** Counts one new upload for the caller (its key's budget when it used one); throws 429 RateLimited when over the limit. */
  consume(principal: Caller): Promise<void> {
    const limit = limitFor(this.security, principal);
    return countHit(this.storage, {
      key: throttleKey(this.redisConfig, UPLOAD_URL_THROTTLER, rateLimitTracker(principal)),
      name: UPLOAD_URL_THROTTLER,
      limit,
      windowMs: UPLOAD_URL_WINDOW_MS,
      log: this.log,
      message: (retryIn) => limitMessage(limit, UPLOAD_URL_WINDOW_MS, retryIn),
    });
  }
}

/**
 * Enforces the limits; fails open when Redis cannot be asked (availability over strictness: a Redis outage
 * must not stop uploads), logging that it did.
 */
@Injectable()
export class PrincipalThrottlerGuard extends ThrottlerGuard {
  private readonly log = new Logger('RateLimit');

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await super.canActivate(context);
    } catch (e) {
      if (e instanceof ThrottlerException) throw e;
      this.log.warn(`rate limit not checked (Redis unavailable): ${e instanceof Error ? e.message : String(e)}`);
      return true;
    }
  }

  protected override async getErrorMessage(_context: ExecutionContext, d: ThrottlerLimitDetail): Promise<string> {
    return limitMessage(d.limit, d.ttl, d.timeToBlockExpire || d.timeToExpire);
  }
}

/** Applies the per-principal rate limit to a route. */
export const RateLimited = () =>
  applyDecorators(
    UseGuards(PrincipalThrottlerGuard),
    ApiDefaultProblem(429, 'Over the per-caller rate limit (or the asset-count quota)', [
      ErrorCode.RateLimited,
      ErrorCode.QuotaAssetsExceeded,
    ]),
  );
