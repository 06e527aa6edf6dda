import { Transform, Type } from 'class-transformer';
import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsISO8601, IsNumber, IsOptional, Max, Min } from 'class-validator';
import { LIFECYCLE_JOB_NAMES } from './lifecycle.constants';

const toBool = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

export class RunJobQueryDto {
  /** `true`: report what the run would do, change nothing. */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean({ message: 'dryRun must be true or false' })
  dryRun?: boolean;
}

export class JobRunsQueryDto {
  @IsOptional()
  @IsIn(LIFECYCLE_JOB_NAMES, { message: `name must be one of: ${LIFECYCLE_JOB_NAMES.join(', ')}` })
  name?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;
}

/** PUT /admin/clock: exactly one of `now` (an ISO 8601 instant) or `advanceSeconds`; `{}` resets to system time. */
export class SetClockDto {
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'now must be an ISO 8601 date-time, e.g. 2030-01-01T00:00:00Z' })
  now?: string;

  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'advanceSeconds must be a number of seconds' })
  @Min(-10 * 365 * 24 * 3600)
  @Max(10 * 365 * 24 * 3600)
  advanceSeconds?: number;
}

/** A run of a lifecycle job (GET /admin/jobs/runs; the 200 of POST /admin/jobs/{name}/run). */
export class JobRunDto {
  id: string;

  @ApiProperty({ enum: LIFECYCLE_JOB_NAMES })
  name: string;

  @ApiProperty({ enum: ['schedule', 'manual'] })
  trigger: 'schedule' | 'manual';

  dryRun: boolean;

  @ApiProperty({ enum: ['running', 'succeeded', 'failed', 'skipped'] })
  status: 'running' | 'succeeded' | 'failed' | 'skipped';

  startedAt: string;

  finishedAt: string | null;

  durationMs: number | null;

  /** What the run did (per job: counts, ids, bytes). */
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true })
  summary: Record<string, unknown> | null;

  error: string | null;
}

/** The 202 of POST /admin/jobs/{name}/run: the run goes on; follow it in GET /admin/jobs/runs. */
export class JobRunStartedDto {
  id: string;

  @ApiProperty({ enum: LIFECYCLE_JOB_NAMES })
  name: string;

  @ApiProperty({ enum: ['running'] })
  status: 'running';
}

/** The service clock. */
export class ClockViewDto {
  /** The time lifecycle jobs read (ISO 8601). */
  now: string;

  /** Whether PUT /admin/clock may set it (CLOCK_CONTROL=true). */
  controllable: boolean;

  /** Seconds ahead of (or behind) system time. */
  offsetSeconds: number;
}
