import { randomUUID } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { OutboxService } from '@app/core';
import { EntityManager } from 'typeorm';
import { AssetEvent, AssetEventSubscriber, AssetEventType } from './asset-events';
import { assetSummary } from './asset-record';
import { MediaAsset } from './media-asset.entity';
import { ASSET_EVENT_TOPIC } from './topics';

/**
 * Asset events (asset-events.ts): written to the outbox in the transaction of the state change that caused them,
 * then handed by the outbox to every subscriber (webhooks, derived media, multipart sessions, long-poll wake-ups).
 */
@Injectable()
export class AssetEventsService implements OnModuleInit {
  private readonly subscribers = new Map<string, AssetEventSubscriber>();

  constructor(private readonly outbox: OutboxService) {}

  onModuleInit() {
    // Every subscriber, in registration order; a throw redelivers the whole message later.
    this.outbox.register(ASSET_EVENT_TOPIC, async (event: AssetEvent) => {
      for (const subscriber of this.subscribers.values()) await subscriber(event);
    });
  }

  /** Registers an idempotent handler for asset events; one per name. */
  subscribe(name: string, subscriber: AssetEventSubscriber): void {
    if (this.subscribers.has(name)) throw new Error(`asset event subscriber "${name}" is registered twice`);
    this.subscribers.set(name, subscriber);
  }

  /**
   * Writes an asset event to the outbox inside the transaction that made the change; `asset` is the asset as the
   * change left it, `overrides` adjusts the summary (e.g. the reason an expired upload was removed).
   */
  async append(
    m: EntityManager,
    type: AssetEventType,
    asset: MediaAsset,
    opts: { occurredAt?: Date; overrides?: Partial<AssetEvent['asset']> } = {},
  ): Promise<void> {
    const event: AssetEvent = {
      id: randomUUID(),
      type,
      occurredAt: (opts.occurredAt ?? new Date()).toISOString(),
      asset: { ...assetSummary(asset), ...opts.overrides },
    };
    await this.outbox.append(m, ASSET_EVENT_TOPIC, event as unknown as Record<string, unknown>);
  }
}
