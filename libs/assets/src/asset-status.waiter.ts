import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { AssetAccess, Errors, MetricsService, REDIS, REDIS_CONFIG, RedisConfig } from '@app/core';
import Redis from 'ioredis';
import { AssetEventsService } from './asset-events.service';
import { AssetQueryService } from './asset-query.service';
import { AssetViewDto } from './asset-view.dto';
import { AssetStatus } from './media-asset.entity';

/** Statuses an asset does not leave by itself: a long-poll returns as soon as it sees one. */
const SETTLED = new Set<string>([AssetStatus.Ready, AssetStatus.Failed, AssetStatus.Quarantined, AssetStatus.Deleted]);
export const MAX_WAIT_SECONDS = 30;
const DEFAULT_WAIT_SECONDS = 20;
/** Re-read at least this often, so a lost notification (Redis down) costs at most this much latency. */
const RECHECK_MS = 1000;

/**
 * Long-poll for `GET /media/:id?waitFor=ready&timeout=20`: answers as soon as the asset is settled (ready, failed,
 * quarantined), or with its current state when the timeout passes. Status changes are announced on a Redis
 * channel by the asset-event subscriber (whichever process relays the event), which wakes the waiters of every
 * API process; a 1 s re-read covers a missed announcement.
 */
@Injectable()
export class AssetStatusWaiter implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AssetStatusWaiter');
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly channel: string;
  private subscriber?: Redis;
  private closing = false;
  /** Requests in this process waiting for an asset to settle (media_long_polls_waiting). */
  private polling = 0;

  constructor(
    private readonly assets: AssetQueryService,
    private readonly events: AssetEventsService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_CONFIG) private readonly config: RedisConfig,
    private readonly metrics: MetricsService,
  ) {
    this.channel = `${config.REDIS_KEY_PREFIX}:asset-status`;
  }

  onModuleInit() {
    const waiter = () => this.polling;
    this.metrics.gauge({
      name: 'media_long_polls_waiting',
      help: 'GET /media/{id}?waitFor=ready requests waiting in this process for their asset to settle',
      collect() {
        this.set(waiter());
      },
    });
    this.events.subscribe('status-waiters', async (event) => {
      // Best effort: waiters re-read every second anyway.
      await this.redis.publish(this.channel, event.asset.assetId).catch(() => undefined);
    });
    this.subscriber = new Redis(this.config.REDIS_URL, {
      connectionName: 'media-asset-status',
      maxRetriesPerRequest: null,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, assetId: string) => this.wake(assetId));
    this.subscriber.subscribe(this.channel).catch((e: Error) => this.logger.warn(`cannot subscribe to asset status changes: ${e.message}`));
  }

  async onModuleDestroy() {
    this.closing = true;
    for (const id of [...this.waiters.keys()]) this.wake(id);
    this.subscriber?.disconnect();
  }

  /** Validates `waitFor`/`timeout` (query strings) and waits; `read` is the caller's access-checked view. */
  async viewWhenSettled(access: AssetAccess, query: { waitFor?: string; timeout?: string }): Promise<AssetViewDto> {
    if (query.waitFor !== undefined && query.waitFor !== 'ready') {
      throw Errors.validation('Query parameter "waitFor" must be "ready"', [{ field: 'waitFor', problems: ['must be "ready"'] }]);
    }
    let seconds = DEFAULT_WAIT_SECONDS;
    if (query.timeout !== undefined) {
      if (!/^\d{1,3}$/.test(query.timeout) || Number(query.timeout) > MAX_WAIT_SECONDS) {
        throw Errors.validation(`Query parameter "timeout" must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`, [
          { field: 'timeout', problems: [`must be an integer from 0 to ${MAX_WAIT_SECONDS}`] },
        ]);
      }
      seconds = Number(query.timeout);
    }
    if (query.waitFor === undefined) return this.assets.view(access);
    const deadline = Date.now() + seconds * 1000;
    this.polling++;
    try {
      return await this.waitUntilSettled(access, deadline);
    } finally {
      this.polling--;
    }
  }

  private async waitUntilSettled(access: AssetAccess, deadline: number): Promise<AssetViewDto> {
    for (;;) {
      const woken = this.nextChange(access.assetId);
      try {
        const view = await this.assets.view(access);
        const left = deadline - Date.now();
        // A multipart upload whose assembly failed waits for its client (who completes again): answered at once too.
        if (SETTLED.has(view.status) || view.upload?.state === 'failed' || left <= 0 || this.closing) return view;
        await Promise.race([woken.promise, new Promise((r) => setTimeout(r, Math.min(RECHECK_MS, left)))]);
      } finally {
        woken.cancel();
      }
    }
  }

  private nextChange(assetId: string): { promise: Promise<void>; cancel: () => void } {
    let wake!: () => void;
    const promise = new Promise<void>((r) => (wake = r));
    let set = this.waiters.get(assetId);
    if (!set) this.waiters.set(assetId, (set = new Set()));
    set.add(wake);
    return {
      promise,
      cancel: () => {
        const s = this.waiters.get(assetId);
        s?.delete(wake);
        if (s && !s.size) this.waiters.delete(assetId);
      },
    };
  }

  private wake(assetId: string) {
    const set = this.waiters.get(assetId);
    if (!set) return;
    this.waiters.delete(assetId);
    for (const w of set) w();
  }
}
