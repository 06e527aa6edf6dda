/** Limits in force; 0 means unlimited. */
export class QuotaLimitsDto {
  maxBytes: number;
  maxAssets: number;
  /** Whether the owner has an override (else the defaults apply). */
  overridden: boolean;
}

/**
 * What counts against an owner's quota: processing/ready assets plus pending uploads that have not expired
 * (`pendingBytes`/`pendingAssets` are that part of `bytes`/`assets`).
 */
export class QuotaUsageDto {
  bytes: number;
  assets: number;
  pendingBytes: number;
  pendingAssets: number;
}

export class QuotaViewDto {
  ownerId: string;
  limits: QuotaLimitsDto;
  usage: QuotaUsageDto;
}
