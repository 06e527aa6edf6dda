import { ApiProperty, ApiPropertyOptional, ApiPropertyOptions } from '@nestjs/swagger';
import { RegionStatusDto } from '@app/storage';

export class LivenessDto {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
  uptimeSeconds: number;
}

/**
 * Each storage region's state, for DNS / load-balancer failover. An anonymous caller (or one without the admin role)
 * gets `status` alone; the rest of the report is for an admin caller (bearer token with the "admin" role).
 */
export class RegionsReportDto {
  /** `ok`: every region up; `degraded`: some down; `down`: none up. */
  @ApiProperty({ enum: ['ok', 'degraded', 'down'] })
  status: 'ok' | 'degraded' | 'down';
  /** The primary region's name (admin caller only). */
  primary?: string;
  /** Where new uploads go now, the primary unless it is down (admin caller only). */
  writeRegion?: string;
  /** Whether ready objects are copied to every region (admin caller only). */
  @ApiProperty({ enum: ['on', 'off'], required: false })
  replication?: 'on' | 'off';
  /** Every region's state, latency, bucket and last error (admin caller only). */
  regions?: RegionStatusDto[];
}

/** One readiness check by name: `status` is `up` or `down`; the other fields say what was checked and what failed. */
const CHECKS: ApiPropertyOptions = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] } },
    additionalProperties: true,
  },
};

export type HealthChecks = Record<string, { status: string; [detail: string]: unknown }>;

/**
 * Ready (HTTP 200). An anonymous caller (or one without the admin role) gets `status` alone; an admin caller also
 * gets every check (database, Redis, storage regions, virus scanner, shutdown) under `details`.
 */
export class ReadinessDto {
  @ApiProperty({ enum: ['ok'] })
  status: 'ok';
  /** The checks that are up (admin caller only). */
  @ApiPropertyOptional(CHECKS)
  info?: HealthChecks;
  /** The checks that are down: none when ready (admin caller only). */
  @ApiPropertyOptional(CHECKS)
  error?: HealthChecks;
  /** Every check (admin caller only). */
  @ApiPropertyOptional(CHECKS)
  details?: HealthChecks;
}
