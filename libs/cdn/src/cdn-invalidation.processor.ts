import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { REDIS, REDIS_CONFIG, RedisConfig, registerWorker, SERVER_CONFIG, ServerConfig } from '@app/core';
import type { Queue } from 'bull';
import type Redis from 'ioredis';
import { batchPathsKey, CDN_INVALIDATE_JOB, CDN_QUEUE, MAX_PATHS_PER_INVALIDATION, pendingPathsKey } from './cdn.constants';
import { CdnService } from './cdn.service';

/**
 * Sends the paths collected in one batch window as CloudFront invalidations. The job first moves the pending
 * set to a set of its own (atomically, RENAME), so paths requested meanwhile wait for the next window and a
 * retry resends exactly the same batch under the same CallerReference (CloudFront then answers with the
 * invalidation it already has instead of making a second). Failures throw: Bull retries with backoff.
 */
@Injectable()
export class CdnInvalidationProcessor implements OnModuleInit {
  private readonly logger = new Logger('CdnInvalidation');

  constructor(
    private readonly cdn: CdnService,
    @Inject(REDIS) private readonly redis: Redis,
    @InjectQueue(CDN_QUEUE) private readonly queue: Queue,
    @Inject(SERVER_CONFIG) private readonly server: ServerConfig,
    @Inject(REDIS_CONFIG) private readonly redisConfig: RedisConfig,
  ) {}

  onModuleInit(): void {
    if (!this.server.WORKER_ENABLED || !this.cdn.invalidator) return;
    registerWorker(this.queue, { job: CDN_INVALIDATE_JOB, concurrency: 1, handler: (job) => this.flush(String(job.id)) });
  }

  async flush(jobId: string): Promise<{ paths: number; invalidations: string[] }> {
    const prefix = this.redisConfig.REDIS_KEY_PREFIX;
    const batchKey = batchPathsKey(prefix, jobId);
    if (!(await this.redis.exists(batchKey))) {
      try {
        await this.redis.rename(pendingPathsKey(prefix), batchKey);
      } catch (e) {
        if (/no such key/i.test(e instanceof Error ? e.message : String(e))) return { paths: 0, invalidations: [] };
        throw e;
      }
    }
    const paths = (await this.redis.smembers(batchKey)).sort();
    const ids: string[] = [];
    for (let i = 0; i < paths.length; i += MAX_PATHS_PER_INVALIDATION) {
      const chunk = paths.slice(i, i + MAX_PATHS_PER_INVALIDATION);
      const r = await this.cdn.invalidator!.createInvalidation(chunk, `media-${prefix}-${jobId}-${i / MAX_PATHS_PER_INVALIDATION}`);
      if (r.id) ids.push(r.id);
    }
    await this.redis.del(batchKey);
    this.logger.log({ paths: paths.length, invalidations: ids }, `CloudFront invalidation sent for ${paths.length} path(s)`);
    // Paths that arrived after the rename belong to a later window; make sure it has a job.
    if ((await this.redis.scard(pendingPathsKey(prefix))) > 0) await this.cdn.scheduleFlush();
    return { paths: paths.length, invalidations: ids };
  }
}
