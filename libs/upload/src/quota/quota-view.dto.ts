import type { QuotaLimits, QuotaUsage } from './quota-rules';
import type { QuotaView } from './quota.service';

/** Limits in force; 0 means unlimited. */
export class QuotaLimitsDto implements QuotaLimits {
  maxBytes: number;
  maxAssets: number;
  /** Whether the owner has an override (else the defaults apply). */
  overridden: boolean;
}

export class QuotaUsageDto implements QuotaUsage {
  bytes: number;
  assets: number;
  pendingBytes: number;
  pendingAssets: number;
}

export class QuotaViewDto implements QuotaView {
  ownerId: string;
  limits: QuotaLimitsDto;
  usage: QuotaUsageDto;
}
