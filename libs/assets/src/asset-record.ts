import type { AssetEvent } from './asset-events';
import { MediaAsset } from './media-asset.entity';

const DATE_FIELDS = ['createdAt', 'updatedAt', 'uploadExpiresAt', 'processingStartedAt', 'readyAt', 'deletedAt', 'lastAccessedAt'] as const;

/** A MediaAsset from the cache (dates as ISO strings after JSON) or from Postgres (dates as Date), as a MediaAsset. */
export function reviveAsset(raw: MediaAsset | Record<string, unknown>): MediaAsset {
  const a = Object.assign(new MediaAsset(), raw);
  for (const f of DATE_FIELDS) {
    const v: unknown = a[f];
    if (typeof v === 'string') a[f] = new Date(v);
  }
  return a;
}

/** The fields of an asset every client-facing shape shares (the API view, webhook event payloads). */
export function assetSummary(a: MediaAsset): AssetEvent['asset'] & { status: MediaAsset['status'] } {
  return {
    assetId: a.assetId,
    ownerId: a.ownerId,
    filename: a.filename,
    status: a.status,
    mimeType: a.mimeType,
    detectedMimeType: a.detectedMimeType,
    sizeBytes: Number(a.sizeBytes),
    checksumSha256: a.checksumSha256,
    failureReason: a.failureReason,
  };
}
