import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { AssetStatus } from '@app/assets';
import { MAX_INT4 } from '@app/core';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class DeadLettersQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_INT4)
  offset?: number;
}

export class DeadLetterView {
  /** The Bull job id (`<assetId>:<declared checksum | "undeclared">`); POST .../:id/retry takes it. */
  id: string;
  queue: string;
  job: string;
  assetId: string;
  /** The asset's status now (`failed` unless something changed it since). */
  assetStatus: string | null;
  attemptsMade: number;
  maxAttempts: number;
  /** The last error in full (for operators; users see a summary on the asset). */
  failedReason: string | null;
  failedAt: string | null;
  createdAt: string;
}

export class DeadLetterPageDto {
  items: DeadLetterView[];
  /** Dead letters in all. */
  total: number;
}

/** A dead letter requeued (POST /admin/dead-letters/{id}/retry). */
export class DeadLetterRetryDto {
  id: string;
  assetId: string;
  @ApiProperty({ enum: AssetStatus, enumName: 'AssetStatus' })
  status: AssetStatus;
}

/** What one reconciliation sweep did. */
export class ReconcileReportDto {
  /** `pending` assets looked at (old enough, upload URL not long expired). */
  pendingChecked: number;
  /** … of which had their object in storage and were moved to processing. */
  pendingStarted: number;
  /** `processing` assets unchanged for RECONCILE_PROCESSING_AFTER_MS. */
  processingChecked: number;
  /** … whose job was lost (or stalled out) and was enqueued again. */
  requeued: number;
  /** … whose job had used all its attempts without the asset being marked: now `failed`. */
  deadLettered: number;
}
