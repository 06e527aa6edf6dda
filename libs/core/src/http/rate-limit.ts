import { applyDecorators, ExecutionContext, Injectable, Logger, UseGuards } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, ThrottlerLimitDetail, ThrottlerModuleOptions } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import type { AppConfig } from '../config/app-config';
import { ErrorCode } from '../errors/error-codes';
import { ApiDefaultProblem } from '../openapi/api-problems';

export const UPLOAD_URL_THROTTLER = 'upload-url';

/** Limits per principal (JWT `sub`; client IP for anonymous calls), counted in Redis so all replicas share them. */
export function rateLimitOptions(config: AppConfig, redis: Redis): ThrottlerModuleOptions {
  return {
    throttlers: [{ name: UPLOAD_URL_THROTTLER, ttl: 60_000, limit: config.RATE_LIMIT_UPLOAD_URLS_PER_MINUTE }],
    storage: new ThrottlerStorageRedisService(redis),
    getTracker: (req: any) => (req.principal ? `user:${req.principal.userId}` : `ip:${req.ip}`),
    generateKey: (_ctx: ExecutionContext, tracker: string, name: string) => `${config.REDIS_KEY_PREFIX}:throttle:${name}:${tracker}`,
  };
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
      this.log.warn(`rate limit not checked (Redis unavailable): ${e instanceof Error ? e.message : e}`);
      return true;
    }
  }

  protected override async getErrorMessage(_context: ExecutionContext, d: ThrottlerLimitDetail): Promise<string> {
    return `Too many requests: at most ${d.limit} per ${Math.round(d.ttl / 1000)} s for this caller; retry in ${d.timeToBlockExpire || d.timeToExpire} s`;
  }
}

/** Applies the per-principal rate limit to a route. */
export const RateLimited = () =>
  applyDecorators(UseGuards(PrincipalThrottlerGuard), ApiDefaultProblem(429, 'Over the per-caller rate limit (or the asset-count quota)', [ErrorCode.RateLimited, ErrorCode.QuotaAssetsExceeded]));
