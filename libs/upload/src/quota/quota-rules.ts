import { Errors } from '@app/core';

/** Limits in force for one owner; 0 means unlimited. */
export interface QuotaLimits {
  maxBytes: number;
  maxAssets: number;
  /** Whether the owner has an override row (else the env defaults apply). */
  overridden: boolean;
}

export interface QuotaUsage {
  bytes: number;
  assets: number;
  pendingBytes: number;
  pendingAssets: number;
}

/** Per-owner overrides; null keeps the default for that limit. */
export interface QuotaOverride {
  maxBytes: number | null;
  maxAssets: number | null;
}

export function effectiveLimits(defaults: { maxBytes: number; maxAssets: number }, override: QuotaOverride | null): QuotaLimits {
  return {
    maxBytes: override?.maxBytes ?? defaults.maxBytes,
    maxAssets: override?.maxAssets ?? defaults.maxAssets,
    overridden: !!override,
  };
}

/**
 * Refuses one more asset of `sizeBytes` when it would exceed a limit:
 * 413 QuotaBytesExceeded for bytes, 429 QuotaAssetsExceeded for the number of assets.
 */
export function checkQuota(ownerId: string, limits: QuotaLimits, usage: QuotaUsage, sizeBytes: number): void {
  if (limits.maxBytes > 0 && usage.bytes + sizeBytes > limits.maxBytes) {
    throw Errors.quotaBytesExceeded(
      `Uploading ${sizeBytes} bytes would exceed the storage quota (maxBytes) of owner ${ownerId}: ` +
        `${usage.bytes} of ${limits.maxBytes} bytes are in use, ${usage.pendingBytes} of them by pending uploads that count until they expire`,
      { limit: 'maxBytes', maxBytes: limits.maxBytes, usedBytes: usage.bytes, pendingBytes: usage.pendingBytes, requestedBytes: sizeBytes },
    );
  }
  if (limits.maxAssets > 0 && usage.assets + 1 > limits.maxAssets) {
    throw Errors.quotaAssetsExceeded(
      `Owner ${ownerId} has reached the asset quota (maxAssets): ${usage.assets} of ${limits.maxAssets} assets, ` +
        `${usage.pendingAssets} of them pending uploads that count until they expire; delete assets or let pending uploads expire`,
      { limit: 'maxAssets', maxAssets: limits.maxAssets, usedAssets: usage.assets, pendingAssets: usage.pendingAssets },
    );
  }
}
