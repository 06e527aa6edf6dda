import { Transform, Type } from 'class-transformer';
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
