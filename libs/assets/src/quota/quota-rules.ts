import { Errors } from '@app/core';
import type { QuotaLimitsDto, QuotaUsageDto } from './quota-view.dto';

/*
 * The quota rule. create_pending_asset (migration 1764000008000) applies the same comparison in SQL, under the
 * owner's lock, when it creates a pending asset; test/quota-rules.e2e-spec.ts runs both on generated cases and
 * expects the same verdict. This file is the readable statement of the rule and explains a refusal (413/429).
 */

/** Per-owner overrides; null keeps the default for that limit. */
export interface QuotaOverride {
  maxBytes: number | null;
  maxAssets: number | null;
}

export function effectiveLimits(defaults: { maxBytes: number; maxAssets: number }, override: QuotaOverride | null): QuotaLimitsDto {
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
export function checkQuota(ownerId: string, limits: QuotaLimitsDto, usage: QuotaUsageDto, sizeBytes: number): void {
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
