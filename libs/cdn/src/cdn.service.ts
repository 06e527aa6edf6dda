import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import {
  CDN_CONFIG,
  CdnConfig,
  OutboxService,
  REDIS,
  REDIS_CONFIG,
  RedisConfig,
  STORAGE_CONFIG,
  StorageConfig,
  withRequestId,
} from '@app/core';
import { contentDisposition, STORAGE_DRIVER, StorageDriver } from '@app/storage';
import type { Queue } from 'bull';
import type Redis from 'ioredis';
import { EntityManager } from 'typeorm';
import {
  CDN_INVALIDATE_JOB,
  CDN_INVALIDATE_TOPIC,
  CDN_QUEUE,
  CdnInvalidateMessage,
  invalidateJobOptions,
  invalidationWindowKey,
  pendingPathsKey,
} from './cdn.constants';
import { CloudFrontInvalidationDriver } from './cloudfront-invalidation.driver';
import { CloudFrontUrlSigner } from './cloudfront-url.signer';

export interface ReadUrlParams {
  key: string;
  /** Sent back as Content-Disposition: attachment. */
  filename?: string;
  contentType?: string;
  /** SHA-256 of the bytes, when known: the URL is then content-addressed (cacheable as immutable). */
  sha256?: string | null;
  /** Anyone may read the asset (a `*` read grant): a plain CDN URL, cacheable by shared caches. */
  publicRead?: boolean;
  /** The asset's own date, served as Last-Modified where the store lets the URL say so (local driver). */
  lastModified?: Date;
  /** Cache lifetime beyond the URL's own (content-addressed URLs only; see PresignGetParams.cacheMaxAgeSeconds). */
  cacheMaxAgeSeconds?: number;
}

export interface ReadUrl {
  url: string;
  /** Null for plain (unsigned) CDN URLs of public assets. */
  expiresAt: Date | null;
}

/**
 * How clients read stored objects, and keeping the CDN's copies honest.
 *
 * - CDN_PROVIDER=cloudfront: download/thumbnail links are CloudFront signed URLs (canned policy, short
 *   expiry); public assets get the plain CDN URL; deletes, content replacements and withdrawals of public
 *   read request an invalidation (outbox → Redis set → one batched, retried Bull job per window).
 * - CDN_PROVIDER=none: this service is the edge. Links are storage-signed URLs (routed to a healthy region
 *   holding the object) carrying the content hash and cache scope, served with ETag, Last-Modified,
 *   Cache-Control, conditional requests and Range; nothing needs invalidating.
 */
@Injectable()
export class CdnService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Cdn');
  readonly signer?: CloudFrontUrlSigner;
  readonly invalidator?: CloudFrontInvalidationDriver;

  constructor(
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    private readonly outbox: OutboxService,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectQueue(CDN_QUEUE) private readonly queue: Queue,
    @Inject(CDN_CONFIG) private readonly cdn: CdnConfig,
    @Inject(STORAGE_CONFIG) private readonly storageConfig: StorageConfig,
    @Inject(REDIS_CONFIG) private readonly redisConfig: RedisConfig,
  ) {
    if (cdn.CDN_PROVIDER === 'cloudfront') {
      this.signer = new CloudFrontUrlSigner({
        baseUrl: cdn.CDN_BASE_URL!,
        keyPairId: cdn.CLOUDFRONT_KEY_PAIR_ID!,
        privateKey: cdn.cloudfrontPrivateKey!,
        hash: cdn.CLOUDFRONT_SIGNING_HASH,
      });
      this.invalidator = new CloudFrontInvalidationDriver({
        distributionId: cdn.CLOUDFRONT_DISTRIBUTION_ID!,
        endpoint: cdn.CLOUDFRONT_ENDPOINT,
        accessKeyId: cdn.CLOUDFRONT_ACCESS_KEY_ID,
        secretAccessKey: cdn.CLOUDFRONT_SECRET_ACCESS_KEY,
      });
    }
  }

  get provider(): 'none' | 'cloudfront' {
    return this.cdn.CDN_PROVIDER;
  }

  onModuleInit(): void {
    this.outbox.register(CDN_INVALIDATE_TOPIC, (m: CdnInvalidateMessage) => this.collect(m.keys));
    if (this.signer) this.logger.log(`CDN: CloudFront ${this.cdn.CDN_BASE_URL} (distribution ${this.cdn.CLOUDFRONT_DISTRIBUTION_ID})`);
  }

  onModuleDestroy(): void {
    this.invalidator?.destroy();
  }

  /** The CDN URL recorded on an asset when it becomes ready (CDN registration); null without a CDN. */
  registrationUrl(key: string): string | null {
    return this.signer ? this.signer.objectUrl(key) : null;
  }

  /** A link that reads the object: CloudFront (signed, or plain for public assets), or a storage-signed URL. */
  async readUrl(p: ReadUrlParams): Promise<ReadUrl> {
    if (this.signer) {
      if (p.publicRead) return { url: this.signer.objectUrl(p.key), expiresAt: null };
      const expiresAt = new Date(Date.now() + this.cdn.CDN_SIGNED_URL_TTL_SECONDS * 1000);
      const query: Record<string, string> = {};
      if (p.filename !== undefined) query['response-content-disposition'] = contentDisposition(p.filename, 'attachment');
      if (p.contentType) query['response-content-type'] = p.contentType;
      return { url: this.signer.sign(p.key, expiresAt, query), expiresAt };
    }
    const ttl = this.storageConfig.DOWNLOAD_URL_TTL_SECONDS;
    const url = await this.storage.presignGet({
      key: p.key,
      expiresInSeconds: ttl,
      downloadFilename: p.filename,
      contentType: p.contentType,
      contentSha256: p.sha256 ?? undefined,
      cacheScope: p.publicRead ? 'public' : 'private',
      lastModified: p.lastModified,
      cacheMaxAgeSeconds: p.cacheMaxAgeSeconds,
    });
    return { url, expiresAt: new Date(Date.now() + ttl * 1000) };
  }

  /**
   * In the transaction that deletes an asset, replaces its bytes or withdraws its public read: the CDN's
   * copies of these keys are invalidated once it commits. No-op without a CDN.
   */
  async requestInvalidation(m: EntityManager, keys: string[]): Promise<void> {
    if (!this.signer || !keys.length) return;
    await this.outbox.append(m, CDN_INVALIDATE_TOPIC, { keys: [...new Set(keys)] } satisfies CdnInvalidateMessage);
  }

  /** Outbox delivery: add the paths to the pending set and make sure this window's flush job exists. */
  private async collect(keys: string[]): Promise<void> {
    if (!this.signer || !keys?.length) return;
    await this.redis.sadd(pendingPathsKey(this.redisConfig.REDIS_KEY_PREFIX), ...keys.map((k) => this.signer!.invalidationPath(k)));
    await this.scheduleFlush();
  }

  /**
   * One flush per batch window: the first request opens a window (a Redis key living CDN_INVALIDATION_BATCH_MS)
   * and queues the flush job to run when it closes; requests while it is open only add their paths.
   */
  async scheduleFlush(): Promise<void> {
    const windowMs = this.cdn.CDN_INVALIDATION_BATCH_MS;
    if (windowMs > 0) {
      const opened = await this.redis.set(invalidationWindowKey(this.redisConfig.REDIS_KEY_PREFIX), '1', 'PX', windowMs, 'NX');
      if (opened !== 'OK') return;
    }
    try {
      await this.queue.add(CDN_INVALIDATE_JOB, withRequestId({}), invalidateJobOptions(this.cdn));
    } catch (e) {
      // No job for this window: close it, so the retried delivery opens another.
      if (windowMs > 0) await this.redis.del(invalidationWindowKey(this.redisConfig.REDIS_KEY_PREFIX)).catch(() => undefined);
      throw e;
    }
  }
}
