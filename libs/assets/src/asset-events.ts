/**
 * Domain events of an asset's life, written to the outbox in the same transaction as the status change
 * (topic ASSET_EVENT_TOPIC) and handed, at least once, to every subscriber (webhooks, derived media,
 * long-poll wake-ups). Subscribers must be idempotent: a message is redelivered whole when one of them throws.
 */
export const ASSET_EVENT_TYPES = ['asset.ready', 'asset.failed', 'asset.quarantined', 'asset.deleted'] as const;
export type AssetEventType = (typeof ASSET_EVENT_TYPES)[number];

export interface AssetEvent {
  /** Unique per event (a UUID); receivers deduplicate on it. */
  id: string;
  type: AssetEventType;
  occurredAt: string;
  asset: {
    assetId: string;
    ownerId: string;
    filename: string;
    status: string;
    mimeType: string;
    detectedMimeType: string | null;
    sizeBytes: number;
    checksumSha256: string | null;
    failureReason: string | null;
  };
}

export type AssetEventSubscriber = (event: AssetEvent) => Promise<void>;
