import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS, REDIS_CONFIG, RedisConfig, TimeoutError } from '@app/core';

/** A render lock lives this long unless its holder renews it (every third of it): a dead holder frees it this soon. */
export const RENDER_LOCK_TTL_MS = 5_000;
/** Waiters look for the rendition (and for a free lock) at most this often, backing off to RENDER_POLL_MAX_MS. */
const RENDER_POLL_MIN_MS = 25;
const RENDER_POLL_MAX_MS = 250;

const RENEW_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** The lock's scripts, defined on the shared client (defineCommand). */
interface LockScripts {
  mediaRenderLockRenew(key: string, token: string, ttlMs: string): Promise<number>;
  mediaRenderLockRelease(key: string, token: string): Promise<number>;
}

export interface Coalesced<T> {
  value: T;
  /** This process produced it (false: another process did while this one waited). */
  produced: boolean;
}

/**
 * Renders a rendition once across replicas: the first process to take `<prefix>:render:lock:<key>` (SET NX PX,
 * renewed while held) renders; the others poll `find` (the renditions row) until it appears, or until the lock is
 * free again (the holder failed or died: its lock expires within RENDER_LOCK_TTL_MS), then one of them takes it.
 * Waits end at `deadline` (a TimeoutError). Redis unreachable: this process renders on its own (coalescing within
 * the process still holds; a duplicate render writes the same object and its row insert is a no-op).
 */
@Injectable()
export class RenderCoalescer {
  private readonly logger = new Logger('Renditions');
  private readonly prefix: string;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_CONFIG) redisConfig: RedisConfig,
  ) {
    this.prefix = `${redisConfig.REDIS_KEY_PREFIX}:render:lock:`;
    // EVALSHA (the script's text only when Redis does not know it yet), not the whole text on every render.
    redis.defineCommand('mediaRenderLockRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    redis.defineCommand('mediaRenderLockRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  }

  private get scripts(): LockScripts {
    return this.redis as unknown as LockScripts;
  }

  lockKey(key: string): string {
    return this.prefix + key;
  }

  async once<T>(key: string, find: () => Promise<T | null>, produce: () => Promise<T>, deadline: number): Promise<Coalesced<T>> {
    const lockKey = this.lockKey(key);
    let pause = RENDER_POLL_MIN_MS;
    for (let attempt = 0; ; attempt++) {
      const token = randomUUID();
      let held: boolean;
      try {
        held = (await this.redis.set(lockKey, token, 'PX', RENDER_LOCK_TTL_MS, 'NX')) === 'OK';
      } catch (e) {
        this.logger.warn(`render lock unavailable, rendering without it: ${e instanceof Error ? e.message : String(e)}`);
        return { value: await produce(), produced: true };
      }
      if (held) return this.holding(lockKey, token, attempt > 0 ? find : null, produce);
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError('waiting for another replica to render', 0);
      await new Promise((r) => setTimeout(r, Math.min(pause, left)));
      pause = Math.min(pause * 2, RENDER_POLL_MAX_MS);
      const found = await find();
      if (found) return { value: found, produced: false };
    }
  }

  private async holding<T>(
    lockKey: string,
    token: string,
    find: (() => Promise<T | null>) | null,
    produce: () => Promise<T>,
  ): Promise<Coalesced<T>> {
    const timer = setInterval(() => {
      void this.scripts.mediaRenderLockRenew(lockKey, token, String(RENDER_LOCK_TTL_MS)).catch(() => undefined);
    }, RENDER_LOCK_TTL_MS / 3);
    timer.unref();
    try {
      // After a wait, the holder before this one may have finished between our last look and taking the lock. (Taken
      // at once, the caller looked a moment ago; a holder finishing in that moment costs one duplicate render, which
      // writes the same object and whose row insert is a no-op — not a database read on every render.)
      const found = find ? await find() : null;
      if (found) return { value: found, produced: false };
      return { value: await produce(), produced: true };
    } finally {
      clearInterval(timer);
      await this.scripts.mediaRenderLockRelease(lockKey, token).catch(() => undefined);
    }
  }
}
