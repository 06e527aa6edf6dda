import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { registerWorker, REPLICATION_CONFIG, ReplicationConfig, SERVER_CONFIG, ServerConfig } from '@app/core';
import type { Queue } from 'bull';
import { isRegionOutage, RegionRouter, StorageRegion } from '../regions/region-router';
import { ObjectInfo } from '../storage-driver';
import { ReplicaRepository } from './replica.repository';
import {
  CATCH_UP_CONCURRENCY,
  REPLICATE_OBJECT_JOB,
  REPLICATION_CATCH_UP_JOB,
  REPLICATION_QUEUE,
  ReplicateObjectJobData,
} from './replication.constants';
import { ReplicationService } from './replication.service';

export interface ReplicationOutcome {
  outcome: 'complete' | 'partial' | 'untracked' | 'lost' | 'deleted';
  copiedTo: string[];
  holders: string[];
  /** Regions that were down: the catch-up task copies there once they are back. */
  skipped: string[];
}

/**
 * Copies one object from a region that holds it to every usable region that does not, verifying each copy
 * (size) and recording it. Idempotent: regions that already hold the object are only recorded. Regions
 * that are down are skipped, not waited for; failures in reachable regions throw, so Bull retries.
 */
@Injectable()
export class ReplicationProcessor implements OnModuleInit {
  private readonly logger = new Logger('Replication');

  constructor(
    private readonly router: RegionRouter,
    private readonly replicas: ReplicaRepository,
    private readonly replication: ReplicationService,
    @InjectQueue(REPLICATION_QUEUE) private readonly queue: Queue<ReplicateObjectJobData>,
    @Inject(SERVER_CONFIG) private readonly server: ServerConfig,
    @Inject(REPLICATION_CONFIG) private readonly config: ReplicationConfig,
  ) {}

  onModuleInit(): void {
    if (!this.server.WORKER_ENABLED || !this.replication.enabled) return;
    registerWorker<ReplicateObjectJobData>(this.queue, {
      job: REPLICATE_OBJECT_JOB,
      concurrency: this.config.REPLICATION_CONCURRENCY,
      handler: (job) => this.replicate(job.data),
    });
    registerWorker(this.queue, {
      job: REPLICATION_CATCH_UP_JOB,
      concurrency: CATCH_UP_CONCURRENCY,
      handler: async () => ({ queued: await this.replication.catchUp() }),
      quiet: true,
    });
  }

  async replicate(ref: ReplicateObjectJobData): Promise<ReplicationOutcome> {
    const { key } = ref;
    const result: ReplicationOutcome = { outcome: 'complete', copiedTo: [], holders: [], skipped: [] };
    if (!(await this.replicas.isTracked(ref))) return { ...result, outcome: 'untracked' };

    const holders: { region: StorageRegion; info: ObjectInfo }[] = [];
    const missing: StorageRegion[] = [];
    for (const region of this.router.preferenceOrder()) {
      if (!this.router.isUsable(region.name)) {
        result.skipped.push(region.name);
        continue;
      }
      try {
        const info = await this.router.call(region, (d) => d.head(key));
        if (info) holders.push({ region, info });
        else missing.push(region);
      } catch (err) {
        if (!isRegionOutage(err)) throw err;
        result.skipped.push(region.name);
      }
    }
    for (const h of holders) await this.replicas.recordCopy(ref, h.region.name, h.info.etag);
    for (const m of missing) await this.replicas.dropCopy(ref, m.name);
    result.holders = holders.map((h) => h.region.name);
    if (!holders.length) {
      if (result.skipped.length) throw new Error(`no reachable region holds ${key}; down: ${result.skipped.join(', ')}`);
      this.logger.error({ key }, `Object ${key} is registered for replication but no region holds it`);
      return { ...result, outcome: 'lost' };
    }

    const source = holders[0];
    const errors: string[] = [];
    for (const target of missing) {
      try {
        await this.copy(source.region, target, key, source.info);
        const copied = await this.router.call(target, (d) => d.head(key));
        if (!copied || copied.size !== source.info.size) {
          throw new Error(
            `copy verification failed (${copied ? `${copied.size} bytes, expected ${source.info.size}` : 'absent after write'})`,
          );
        }
        if (!(await this.replicas.recordCopy(ref, target.name, copied.etag))) {
          // Deleted while we copied: the delete could not see this copy, so remove it here.
          await this.router.call(target, (d) => d.delete(key));
          return { ...result, outcome: 'deleted' };
        }
        result.copiedTo.push(target.name);
        result.holders.push(target.name);
      } catch (err) {
        errors.push(`${target.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (errors.length) throw new Error(`replicating ${key} from ${source.region.name} failed for ${errors.join('; ')}`);
    if (result.copiedTo.length) this.logger.log({ key, from: source.region.name, to: result.copiedTo }, `Replicated ${key}`);
    return { ...result, outcome: result.skipped.length ? 'partial' : 'complete' };
  }

  /** Streams the object from one region into another (never buffered whole). */
  private async copy(from: StorageRegion, to: StorageRegion, key: string, info: ObjectInfo): Promise<void> {
    const body = await this.router.call(from, (d) => d.read(key));
    try {
      await this.router.call(to, (d) =>
        d.write({ key, body, contentType: info.contentType ?? 'application/octet-stream', contentLength: info.size }),
      );
    } finally {
      if (!body.destroyed) body.destroy();
    }
  }
}
