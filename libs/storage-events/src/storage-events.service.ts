import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AppError, ErrorCode, MetricsService, OutboxService, STORAGE_EVENTS_CONFIG, StorageEventsConfig, withTimeout } from '@app/core';
import { AssetStateService, AssetStatus } from '@app/assets';
import { ProcessingService } from '@app/processing';
import { LocalUploadHooks, ObjectKeyLayout, RegionRouter } from '@app/storage';
import type { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { ObjectCreatedRecord, ParsedNotification } from './storage-event.parsers';

/** Where an event came from (the metric's `source` label). */
export type StorageEventSource = 'webhook' | 'sqs' | 'local';

/** What one object-created record did. */
export type StorageEventOutcome =
  /** pending → processing: this event started the upload's processing. */
  | 'started'
  /** The asset had already left `pending` (complete, the sweep or an earlier event came first): nothing changed. */
  | 'duplicate'
  /** The stored size differs from the declared one: the asset is now `failed`. */
  | 'size_mismatch'
  /** Not an upload this service waits for (see IgnoredReason). */
  | 'ignored';

export type IgnoredReason =
  /** The bucket is no configured region's. */
  | 'unknown_bucket'
  /** The key is not an upload key (`uploads/<owner>/<asset>`), e.g. a stored object or a derivative. */
  | 'not_an_upload'
  /** No asset has this upload key (deleted, expired, or never created). */
  | 'no_pending_upload'
  /** The event names an object storage no longer holds. */
  | 'object_missing'
  /** ObjectRemoved and other kinds, and S3 test events. */
  | 'other_event';

/** How long the webhook applies a record itself before it hands it to the outbox (and answers). */
export const WEBHOOK_INLINE_BUDGET_MS = 2000;

/** Outbox topic of webhook records that could not be applied at once (applied by `apply`, at least once). */
export const STORAGE_EVENT_TOPIC = 'storage-event.object-created';

/**
 * Completion by storage event: the rules every event path shares (webhook, SQS, the local driver's own uploads).
 * An object-created record for a `pending` asset's upload key starts its processing exactly as
 * `POST /media/{id}/complete` does (AssetStateService.beginProcessing with the processing request, in one
 * transaction); an asset past `pending` is left alone, so the client call, the event and the reconciliation sweep
 * can arrive in any order and any number of times. A size that differs from the declared one fails the upload.
 * Anything else (another bucket, a non-upload key, an unknown or deleted asset) is ignored and counted.
 */
@Injectable()
export class StorageEventsService implements OnModuleInit {
  private readonly logger = new Logger('StorageEvents');
  private readonly events: Counter<'source' | 'outcome'>;
  private readonly ignoredEvents: Counter<'source' | 'reason'>;

  constructor(
    private readonly assets: AssetStateService,
    private readonly processing: ProcessingService,
    private readonly router: RegionRouter,
    private readonly outbox: OutboxService,
    private readonly localUploads: LocalUploadHooks,
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(STORAGE_EVENTS_CONFIG) private readonly settings: StorageEventsConfig,
    metrics: MetricsService,
  ) {
    this.events = metrics.counter({
      name: 'media_storage_events_total',
      help: 'Object-created storage events by source (webhook, sqs, local) and outcome: started (processing began), duplicate (already past pending), size_mismatch (asset failed), ignored',
      labelNames: ['source', 'outcome'],
    });
    this.ignoredEvents = metrics.counter({
      name: 'media_storage_events_ignored_total',
      help: 'Storage events that named no pending upload, by source and reason: unknown_bucket, not_an_upload, no_pending_upload, object_missing, other_event',
      labelNames: ['source', 'reason'],
    });
  }

  onModuleInit(): void {
    this.outbox.register(STORAGE_EVENT_TOPIC, async (record: ObjectCreatedRecord) => {
      await this.apply(record, 'webhook');
    });
    // The local driver receives the bytes itself: a stored, verified single upload is the storage event.
    if (this.settings.LOCAL_PUT_COMPLETES) {
      this.localUploads.onUploadStored(async (u) => {
        await this.apply({ eventName: 'local:Put', bucket: u.bucket, key: u.key, size: u.size, etag: u.etag }, 'local');
      });
    }
  }

  /** Whether the webhook route is on (a token is configured). */
  get webhookEnabled(): boolean {
    return !!this.settings.STORAGE_EVENTS_WEBHOOK_TOKEN;
  }

  /**
   * The webhook's part, fast and durable: each record that may name a pending upload is applied at once (bounded by
   * WEBHOOK_INLINE_BUDGET_MS); one that fails or takes longer (database or storage slow or down) is written to the
   * outbox instead, whose relay applies it with retries, so nothing is lost once the webhook has answered. Records
   * that cannot name a pending upload are counted and dropped. Throws only when even the outbox cannot be written
   * (the sender then retries: MinIO keeps undelivered events in its queue_dir).
   */
  async receive(parsed: ParsedNotification, source: StorageEventSource): Promise<{ applied: number; queued: number; ignored: number }> {
    let ignored = this.countUnactionable(parsed, source);
    let applied = 0;
    const later: ObjectCreatedRecord[] = [];
    for (const r of parsed.records) {
      const reason = this.screen(r);
      if (reason) {
        this.ignore(source, reason, r);
        ignored++;
        continue;
      }
      try {
        await withTimeout(this.apply(r, source), WEBHOOK_INLINE_BUDGET_MS, 'applying a storage event');
        applied++;
      } catch (e) {
        this.logger.warn({ key: r.key }, `storage event queued for retry: ${e instanceof Error ? e.message : String(e)}`);
        later.push(r);
      }
    }
    if (later.length) {
      await this.ds.transaction(async (m) => {
        for (const r of later) await this.outbox.append(m, STORAGE_EVENT_TOPIC, { ...r });
      });
      this.outbox.kick();
    }
    return { applied, queued: later.length, ignored };
  }

  /** Applies every record of a notification now (SQS: the message is deleted once this resolves). */
  async applyAll(parsed: ParsedNotification, source: StorageEventSource): Promise<StorageEventOutcome[]> {
    this.countUnactionable(parsed, source);
    const outcomes: StorageEventOutcome[] = [];
    for (const r of parsed.records) outcomes.push(await this.apply(r, source));
    return outcomes;
  }

  /**
   * Applies one object-created record (idempotent). Resolves once its effect is committed; throws only when the
   * database or storage could not be asked (the caller retries: outbox backoff, SQS redelivery).
   */
  async apply(record: ObjectCreatedRecord, source: StorageEventSource): Promise<StorageEventOutcome> {
    const screened = this.screen(record);
    if (screened) return this.ignore(source, screened, record);
    const assetId = ObjectKeyLayout.parseUpload(record.key)!.assetId;
    const asset = await this.assets.findForProcessing(assetId);
    if (!asset || asset.objectKey !== record.key || asset.status === AssetStatus.Deleted) {
      return this.ignore(source, 'no_pending_upload', record);
    }
    if (asset.status !== AssetStatus.Pending) return this.count(source, 'duplicate', record, asset.status);
    if (record.size !== undefined && String(record.size) !== asset.sizeBytes) {
      const reason = `size mismatch: declared ${asset.sizeBytes} bytes, stored ${record.size}`;
      const failed = await this.assets.failPendingUpload(assetId, reason);
      return this.count(source, failed ? 'size_mismatch' : 'duplicate', record);
    }
    try {
      // A local upload is stored by this process right before its event: no need to look for the object again.
      const r = await this.assets.startProcessing(assetId, (m, a) => this.processing.request(m, a), {
        record: asset,
        objectStored: source === 'local',
      });
      return this.count(source, r.started ? 'started' : 'duplicate', record, r.status);
    } catch (e) {
      if (e instanceof AppError && e.code === ErrorCode.AssetNotFound) return this.ignore(source, 'no_pending_upload', record);
      if (e instanceof AppError && e.code === ErrorCode.ObjectNotUploaded) return this.ignore(source, 'object_missing', record);
      throw e;
    }
  }

  /** Why a record cannot name a pending upload, judged without I/O; undefined when it may. */
  private screen(r: ObjectCreatedRecord): IgnoredReason | undefined {
    if (!this.router.regions.some((region) => region.driver.bucket === r.bucket)) return 'unknown_bucket';
    if (!ObjectKeyLayout.parseUpload(r.key)) return 'not_an_upload';
    return undefined;
  }

  private countUnactionable(parsed: ParsedNotification, source: StorageEventSource): number {
    const n = parsed.otherEvents + (parsed.testEvent ? 1 : 0);
    if (n) {
      this.ignoredEvents.inc({ source, reason: 'other_event' }, n);
      this.events.inc({ source, outcome: 'ignored' }, n);
      this.logger.debug({ source, count: n, testEvent: parsed.testEvent }, 'storage events of other kinds ignored');
    }
    return n;
  }

  private ignore(source: StorageEventSource, reason: IgnoredReason, r: ObjectCreatedRecord): StorageEventOutcome {
    this.ignoredEvents.inc({ source, reason });
    this.events.inc({ source, outcome: 'ignored' });
    this.logger.debug({ source, reason, bucket: r.bucket, key: r.key, eventName: r.eventName }, `storage event ignored: ${reason}`);
    return 'ignored';
  }

  private count(source: StorageEventSource, outcome: StorageEventOutcome, r: ObjectCreatedRecord, status?: string): StorageEventOutcome {
    this.events.inc({ source, outcome });
    const log = { source, outcome, key: r.key, eventName: r.eventName, status };
    this.logger.debug(log, `storage event: ${outcome}`);
    return outcome;
  }
}
