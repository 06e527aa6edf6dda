import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { AdminOnly, AppError, Clock, ControllableClock, ErrorCode, Errors } from '@app/core';
import type { FastifyReply } from 'fastify';
import { JobRunView } from './job-runs.repository';
import { isLifecycleJobName, LIFECYCLE_JOB_NAMES, LifecycleJobName } from './lifecycle.constants';
import { JobRunsQueryDto, RunJobQueryDto, SetClockDto } from './lifecycle.dto';
import { LifecycleRunner } from './lifecycle-runner.service';

function jobName(name: string): LifecycleJobName {
  if (!isLifecycleJobName(name)) {
    throw new AppError(ErrorCode.NotFound, `No lifecycle job "${name}"; the jobs are: ${LIFECYCLE_JOB_NAMES.join(', ')}`, {
      known: LIFECYCLE_JOB_NAMES,
    });
  }
  return name;
}

/** Operators only: run lifecycle jobs now, read their runs. */
@Controller('admin/jobs')
@AdminOnly()
export class LifecycleController {
  constructor(private readonly runner: LifecycleRunner) {}

  /** Recent runs (newest first), of one job with `?name=`. */
  @Get('runs')
  runs(@Query() q: JobRunsQueryDto): Promise<JobRunView[]> {
    return this.runner.recentRuns(q.name as LifecycleJobName | undefined, q.limit ?? 50);
  }

  /**
   * Runs the job now (the scheduled code path, under the same lock) and answers its run record with the report;
   * 202 with the run id when it takes longer than LIFECYCLE_RUN_TIMEOUT_MS (it goes on; see GET /admin/jobs/runs);
   * 409 while another run of it is in progress. `?dryRun=true` changes nothing.
   */
  @Post(':name/run')
  async run(@Param('name') name: string, @Query() q: RunJobQueryDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const result = await this.runner.runNow(jobName(name), q.dryRun ?? false);
    if (result.finished) {
      reply.status(200);
      return result.run;
    }
    reply.status(202);
    return { id: result.runId, name, status: 'running' };
  }
}

/** The service clock lifecycle jobs read (GET for everyone admin; PUT only with CLOCK_CONTROL=true). */
@Controller('admin/clock')
@AdminOnly()
export class ClockController {
  constructor(private readonly clock: Clock) {}

  @Get()
  get() {
    return this.view();
  }

  @Put()
  @HttpCode(200)
  set(@Body() body: SetClockDto) {
    if (!(this.clock instanceof ControllableClock))
      throw Errors.forbidden('The clock is system time; start the service with CLOCK_CONTROL=true (never in production) to set it');
    if (body.now !== undefined && body.advanceSeconds !== undefined)
      throw Errors.validation('Send either "now" or "advanceSeconds", not both');
    if (body.now !== undefined) this.clock.set(new Date(body.now));
    else if (body.advanceSeconds !== undefined) this.clock.advance(body.advanceSeconds);
    else this.clock.reset();
    return this.view();
  }

  private view() {
    return {
      now: this.clock.now().toISOString(),
      controllable: this.clock.controllable,
      offsetSeconds: this.clock instanceof ControllableClock ? this.clock.offsetSeconds : 0,
    };
  }
}
