import { ApiProperty } from '@nestjs/swagger';
import type { RegionStatus } from '@app/storage';

export class LivenessDto {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
  uptimeSeconds: number;
}

export class RegionStatusDto implements RegionStatus {
  name: string;
  @ApiProperty({ enum: ['local', 's3'] })
  kind: 'local' | 's3';
  bucket: string;
  primary: boolean;
  @ApiProperty({ enum: ['up', 'down', 'unknown'] })
  state: 'up' | 'down' | 'unknown';
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

/** Each storage region's state, for DNS / load-balancer failover. */
export class RegionsReportDto {
  /** `ok`: every region up; `degraded`: some down; `down`: none up. */
  @ApiProperty({ enum: ['ok', 'degraded', 'down'] })
  status: 'ok' | 'degraded' | 'down';
  primary: string;
  /** Where new uploads go now (the primary unless it is down). */
  writeRegion: string;
  @ApiProperty({ enum: ['on', 'off'] })
  replication: 'on' | 'off';
  regions: RegionStatusDto[];
}
