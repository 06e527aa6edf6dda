import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';

type ThrottleRecord = Awaited<ReturnType<ThrottlerStorageRedisService['increment']>>;

/**
 * @nest-lab/throttler-storage-redis with its counting script sent once per connection (EVALSHA through ioredis'
 * defineCommand, EVAL only when Redis does not know the script yet) instead of its whole text on every request:
 * the rate limit runs on every upload-url, the hottest write route. Same script, same keys, same answers.
 */
export class ScriptedThrottlerStorage extends ThrottlerStorageRedisService {
  constructor(private readonly client: Redis) {
    super(client);
    client.defineCommand('mediaThrottleIncrement', { numberOfKeys: 2, lua: this.scriptSrc });
  }

  override async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottleRecord> {
    const hitKey = `{${key}:${throttlerName}}:hits`;
    const blockKey = `{${key}:${throttlerName}}:blocked`;
    const run = (this.client as unknown as { mediaThrottleIncrement: (...a: (string | number)[]) => Promise<unknown> })
      .mediaThrottleIncrement;
    const results = await run.call(this.client, hitKey, blockKey, throttlerName, ttl, limit, blockDuration);
    if (!Array.isArray(results) || results.length !== 4 || results.some((x) => typeof x !== 'number')) {
      throw new TypeError(`Expected four numbers from the rate-limit script, got ${JSON.stringify(results)}`);
    }
    const [totalHits, timeToExpire, isBlocked, timeToBlockExpire] = results as number[];
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpire / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpire / 1000),
    };
  }
}
