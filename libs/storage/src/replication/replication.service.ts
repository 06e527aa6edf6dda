import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleInit } from '@nestjs/common';
import { ensureRepeatableJob, OutboxService, REPLICATION_CONFIG, ReplicationConfig, withRequestId, withTimeout } from '@app/core';
import type { Queue } from 'bull';
import { EntityManager } from 'typeorm';
import { RegionRouter } from '../regions/region-router';
import { RoutedStorageDriver } from '../regions/routed-storage.driver';
import { STORAGE_DRIVER, StorageDriver } from '../storage-driver';
import { ReplicaRepository } from './replica.repository';
import {
  CATCH_UP_BATCH,
  CATCH_UP_JOB_OPTIONS,
  OBJECT_REPLICATE_TOPIC,
  REPLICATE_OBJECT_JOB,
  replicateJobId,
  REPLICATION_CATCH_UP_JOB,
  REPLICATION_QUEUE,
  ReplicateObjectJobData,
  replicateJobOptions,
} from './replication.constants';

const ENQUEUE_TIMEOUT_MS = 5000;

/**
 * Keeps every ready object in every region (unless REPLICATION_ENABLED=false or there is one region).
 *
 * - `requestReplication` runs in the transaction that makes an asset ready: it registers the object and
 *   writes an outbox message, which the relay turns into a `replicate-object` job.
 * - Objects the service writes itself (derived media) are registered and queued right after the write.
 * - The catch-up task (a Bull repeatable job, so one run per tick across replicas, and once more whenever a
 *   region comes back up) queues every registered object that lacks a copy in a usable region.
 */
@Injectable()
export class ReplicationService implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('Replication');

  constructor(
    private readonly router: RegionRouter,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    private readonly replicas: ReplicaRepository,
    private readonly outbox: OutboxService,
    @InjectQueue(REPLICATION_QUEUE) private readonly queue: Queue<ReplicateObjectJobData | Record<string, never>>,
    @Inject(REPLICATION_CONFIG) private readonly config: ReplicationConfig,
  ) {}

  /** Replication runs only with several regions and REPLICATION_ENABLED. */
  get enabled(): boolean {
    return this.config.REPLICATION_ENABLED && this.router.multiRegion;
  }

  onModuleInit(): void {
    this.outbox.register(OBJECT_REPLICATE_TOPIC, (d: ReplicateObjectJobData) => (this.enabled ? this.enqueue(d) : Promise.resolve()));
    if (!this.enabled) return;
    if (this.storage instanceof RoutedStorageDriver) {
      const bucket = this.storage.bucket;
      this.storage.setHooks({
        afterWrite: async (key) => {
          await this.replicas.track({ bucket, key });
          await withTimeout(this.enqueue({ bucket, key }), ENQUEUE_TIMEOUT_MS, 'enqueue replication');
        },
        beforeDelete: (key) => this.replicas.forget({ bucket, key }),
      });
    }
    this.router.onStateChange((region, state, previous) => {
      if (state === 'up' && previous === 'down') void this.scheduleCatchUpNow(`region ${region.name} recovered`);
    });
  }

  onApplicationBootstrap(): void {
    // Not awaited: with Redis down, Bull waits for it, and start-up must not.
    void this.scheduleRepeatableCatchUp().catch((e) =>
      this.logger.warn(`could not schedule the replication catch-up: ${e instanceof Error ? e.message : String(e)}`),
    );
  }

  /** In the transaction that makes an object durable (asset ready): register it and request its copies. */
  async requestReplication(m: EntityManager, ref: { bucket: string; key: string; sizeBytes?: string | number | null }): Promise<void> {
    if (!this.enabled) return;
    await this.replicas.track(ref, m);
    await this.outbox.append(m, OBJECT_REPLICATE_TOPIC, { bucket: ref.bucket, key: ref.key });
  }

  /** Regions recorded as holding a copy of the object. */
  regionsHolding(ref: { bucket: string; key: string }): Promise<string[]> {
    return this.replicas.regionsHolding(ref);
  }

  async enqueue(data: ReplicateObjectJobData): Promise<void> {
    const jobId = replicateJobId(data);
    // A job that ran out of attempts keeps its id in the failed set; a new request replaces it.
    const previous = await this.queue.getJob(jobId);
    if (previous && (await previous.isFailed())) await previous.remove();
    await this.queue.add(REPLICATE_OBJECT_JOB, withRequestId(data), {
      ...replicateJobOptions({ attempts: this.config.REPLICATION_ATTEMPTS, backoffMs: this.config.REPLICATION_BACKOFF_MS }),
      jobId,
    });
  }

  /** Queues every registered object lacking a copy in a usable region; returns how many were queued. */
  async catchUp(): Promise<number> {
    if (!this.enabled) return 0;
    const usable = this.router.regions.filter((r) => this.router.isUsable(r.name)).map((r) => r.name);
    if (usable.length < 2) return 0;
    const refs = await this.replicas.findIncomplete(usable, CATCH_UP_BATCH);
    for (const ref of refs) await this.enqueue(ref);
    if (refs.length) this.logger.log(`Replication catch-up queued ${refs.length} object(s) missing from ${usable.join('/')}`);
    return refs.length;
  }

  /** One repeatable catch-up every REPLICATION_CATCHUP_INTERVAL_MS while replication runs; none otherwise. */
  private async scheduleRepeatableCatchUp(): Promise<void> {
    const every = this.config.REPLICATION_CATCHUP_INTERVAL_MS;
    await ensureRepeatableJob(this.queue, REPLICATION_CATCH_UP_JOB, this.enabled && every > 0 ? { every } : null, CATCH_UP_JOB_OPTIONS);
  }

  private async scheduleCatchUpNow(reason: string): Promise<void> {
    try {
      // One run per minute per reason across replicas (they all see the region come back).
      const jobId = `${REPLICATION_CATCH_UP_JOB}:${reason.replace(/\W+/g, '-')}:${Math.floor(Date.now() / 60000)}`;
      await withTimeout(
        this.queue.add(REPLICATION_CATCH_UP_JOB, {}, { ...CATCH_UP_JOB_OPTIONS, jobId }),
        ENQUEUE_TIMEOUT_MS,
        'enqueue catch-up',
      );
      this.logger.log(`Replication catch-up requested: ${reason}`);
    } catch (e) {
      this.logger.warn(`could not request a replication catch-up (${reason}): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
