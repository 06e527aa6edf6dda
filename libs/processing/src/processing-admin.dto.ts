import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class DeadLettersQueryDto {
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200)
  limit?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0)
  offset?: number;
}

export interface DeadLetterView {
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
