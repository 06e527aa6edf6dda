import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';

/** What a process-memory cache does when told, through its channel, that something changed. */
export interface InvalidationTarget {
  /** Drop one key (another process changed it). */
  delete(key: string): void;
  /** Drop everything (the subscription was lost or has just been (re)established). */
  clear(): void;
}

/**
 * The Redis pub/sub subscription behind an in-process cache layer: keys published on `channel` (by any process)
 * are dropped from `target` on receipt. The layer may be used only while `live`: when the subscription drops,
 * the target is emptied and `live` stays false until it is subscribed again (and emptied once more), so a
 * notification missed during an outage can never be observed. Used by the asset cache and the bucket access cache.
 */
export class InvalidationChannel {
  private subscriber: Redis | null = null;
  private isLive = false;
  private closing = false;

  constructor(
    private readonly redis: Redis,
    readonly channel: string,
    private readonly target: InvalidationTarget,
    private readonly logger: Logger,
    private readonly connectionName: string,
  ) {}

  /** Subscribed: memory may be trusted (within its TTL). */
  get live(): boolean {
    return this.isLive;
  }

  start(): void {
    const sub = this.redis.duplicate({ connectionName: this.connectionName, autoResubscribe: false, enableOfflineQueue: true });
    this.subscriber = sub;
    const off = () => {
      if (this.isLive && !this.closing) this.logger.warn(`${this.channel}: subscription lost: in-memory layer off until resubscribed`);
      this.isLive = false;
      this.target.clear();
    };
    sub.on('message', (channel: string, key: string) => {
      if (channel === this.channel) this.target.delete(key);
    });
    sub.on('error', () => undefined); // reported by the close below; the main client's health is /health/ready
    sub.on('close', off);
    sub.on('end', off);
    sub.on('ready', () => {
      sub.subscribe(this.channel).then(
        () => {
          this.target.clear(); // nothing read before the subscription held is trusted
          this.isLive = true;
        },
        (e) => {
          this.logger.warn(`could not subscribe to ${this.channel}: ${e instanceof Error ? e.message : e}`);
          sub.disconnect(true);
        },
      );
    });
  }

  /** Tells every process (this one included, when subscribed) to drop `key`. Throws when Redis refuses. */
  async publish(key: string): Promise<void> {
    await this.redis.publish(this.channel, key);
  }

  stop(): void {
    this.closing = true;
    this.subscriber?.disconnect();
  }
}
