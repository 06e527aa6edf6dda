import { MediaAsset } from './media-asset.entity';

const DATE_FIELDS = ['createdAt', 'updatedAt', 'uploadExpiresAt', 'processingStartedAt', 'readyAt', 'deletedAt'] as const;

/** A MediaAsset from the cache (dates as ISO strings after JSON) or from Postgres (dates as Date), as a MediaAsset. */
export function reviveAsset(raw: MediaAsset | Record<string, unknown>): MediaAsset {
  const a = Object.assign(new MediaAsset(), raw);
  for (const f of DATE_FIELDS) {
    const v: unknown = a[f];
    if (typeof v === 'string') a[f] = new Date(v);
  }
  return a;
}
