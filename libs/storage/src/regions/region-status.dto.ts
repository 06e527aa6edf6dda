import { ApiProperty } from '@nestjs/swagger';
import type { RegionState } from './region-router';

/**
 * One storage region's state, as RegionRouter.status() gives it and GET /health/regions documents it
 * (the swagger CLI plugin reads the types and comments below).
 */
export class RegionStatusDto {
  name: string;
  @ApiProperty({ enum: ['local', 's3'] })
  kind: 'local' | 's3';
  bucket: string;
  primary: boolean;
  @ApiProperty({ enum: ['up', 'down', 'unknown'] })
  state: RegionState;
  /** `open`: the region is skipped (down) until a health check passes again. */
  @ApiProperty({ enum: ['closed', 'open'] })
  circuit: 'closed' | 'open';
  /** Round trip of the last successful health check. */
  latencyMs: number | null;
  lastCheckedAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** Live errors (and failed checks) since the last success. */
  consecutiveFailures: number;
}
