import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, ApiProblem, AppError, Clock, ControllableClock, ErrorCode, Errors } from '@app/core';
import type { FastifyReply } from 'fastify';
import { JobRunView } from './job-runs.repository';
import { isLifecycleJobName, LIFECYCLE_JOB_NAMES, LifecycleJobName } from './lifecycle.constants';
import { ClockViewDto, JobRunDto, JobRunsQueryDto, JobRunStartedDto, RunJobQueryDto, SetClockDto } from './lifecycle.dto';
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
@ApiTags('lifecycle')
@Controller('admin/jobs')
@AdminOnly()
export class LifecycleController {
  constructor(private readonly runner: LifecycleRunner) {}

  /** Recent runs (newest first), of one job with `?name=`. */
  @Get('runs')
  @ApiOkResponse({ type: [JobRunDto], description: 'Runs, newest first' })
  @ApiOperation({ summary: 'List lifecycle job runs', description: 'Operators: recent runs, newest first; `?name=` for one job.' })
  runs(@Query() q: JobRunsQueryDto): Promise<JobRunView[]> {
    return this.runner.recentRuns(q.name as LifecycleJobName | undefined, q.limit ?? 50);
  }

  /**
   * Runs the job now (the scheduled code path, under the same lock) and answers its run record with the report;
   * 202 with the run id when it takes longer than LIFECYCLE_RUN_TIMEOUT_MS (it goes on; see GET /admin/jobs/runs);
   * 409 while another run of it is in progress. `?dryRun=true` changes nothing.
   */
  @Post(':name/run')
  @ApiOkResponse({ type: JobRunDto, description: 'The run finished: its record, with the report in `summary`' })
  @ApiAcceptedResponse({ type: JobRunStartedDto, description: 'Still running after LIFECYCLE_RUN_TIMEOUT_MS; it goes on' })
  @ApiProblem(404, 'No such job; `details.known` lists the jobs', [ErrorCode.NotFound])
  @ApiProblem(409, 'Another run of the job is in progress', [ErrorCode.JobAlreadyRunning])
  @ApiOperation({
    summary: 'Run a lifecycle job now',
    description:
      'Operators: runs the job now (the scheduled code path, under the same lock) and answers its run record with the report; 202 with the run id when it takes longer than LIFECYCLE_RUN_TIMEOUT_MS (it goes on); 409 while another run of it is in progress. `?dryRun=true` changes nothing.',
  })
  async run(
    @Param('name') name: string,
    @Query() q: RunJobQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<JobRunDto | JobRunStartedDto> {
    const result = await this.runner.runNow(jobName(name), q.dryRun ?? false);
    if (result.finished) {
      reply.status(200);
      return result.run;
    }
    reply.status(202);
    return { id: result.runId, name, status: 'running' as const };
  }
}

/** The service clock lifecycle jobs read (GET for everyone admin; PUT only with CLOCK_CONTROL=true). */
@ApiTags('lifecycle')
@Controller('admin/clock')
@AdminOnly()
export class ClockController {
  constructor(private readonly clock: Clock) {}

  @Get()
  @ApiOkResponse({ type: ClockViewDto })
  @ApiOperation({ summary: 'Get the service clock', description: 'Operators: the time lifecycle jobs read, and whether it can be set.' })
  get(): ClockViewDto {
    return this.view();
  }

  @Put()
  @HttpCode(200)
  @ApiBody({ type: SetClockDto, required: false, description: 'Empty: back to system time' })
  @ApiOkResponse({ type: ClockViewDto, description: 'The clock as set' })
  @ApiProblem(403, 'The clock is system time (CLOCK_CONTROL is not true)', [ErrorCode.Forbidden])
  @ApiOperation({
    summary: 'Set the service clock',
    description:
      'Operators, and only with CLOCK_CONTROL=true (never in production): sets the clock (`now`), moves it (`advanceSeconds`), or back to system time (empty body).',
  })
  set(@Body() body: SetClockDto): ClockViewDto {
    if (!(this.clock instanceof ControllableClock))
      throw Errors.forbidden('The clock is system time; start the service with CLOCK_CONTROL=true (never in production) to set it');
    if (body.now !== undefined && body.advanceSeconds !== undefined)
      throw Errors.validation('Send either "now" or "advanceSeconds", not both');
    if (body.now !== undefined) this.clock.set(new Date(body.now));
    else if (body.advanceSeconds !== undefined) this.clock.advance(body.advanceSeconds);
    else this.clock.reset();
    return this.view();
  }

  private view(): ClockViewDto {
    return {
      now: this.clock.now().toISOString(),
      controllable: this.clock.controllable,
      offsetSeconds: this.clock instanceof ControllableClock ? this.clock.offsetSeconds : 0,
    };
  }
}
