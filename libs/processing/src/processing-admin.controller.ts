import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly, ApiProblem, ErrorCode, Errors } from '@app/core';
import { AssetQueryService, StoredObjectViewDto } from '@app/assets';
import { DeadLetterPageDto, DeadLetterRetryDto, DeadLettersQueryDto, ReconcileReportDto } from './processing-admin.dto';
import { ProcessingAdminService } from './processing-admin.service';
import { ReconciliationService } from './reconciliation.service';

/** Operators only (a JWT whose `roles` contains "admin"): stored objects, dead letters, reconciliation. */
@ApiTags('processing')
@Controller('admin')
@AdminOnly()
export class ProcessingAdminController {
  constructor(
    private readonly admin: ProcessingAdminService,
    private readonly assets: AssetQueryService,
    private readonly reconciliation: ReconciliationService,
  ) {}

  /** The stored object with this SHA-256: reference count, storage class, where it is. */
  @Get('objects/:sha256')
  @ApiProblem(404, 'No stored object has this SHA-256', [ErrorCode.NotFound])
  @ApiOperation({
    summary: 'Get a stored object',
    description: 'Operators: the stored object with this SHA-256 (reference count, storage class, regions holding it).',
  })
  storedObject(@Param('sha256') sha256: string): Promise<StoredObjectViewDto> {
    if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw Errors.validation('Path parameter "sha256" must be 64 hexadecimal digits', [
        { field: 'sha256', problems: ['must be a SHA-256 in hex'] },
      ]);
    }
    return this.assets.storedObjectView(sha256.toLowerCase());
  }

  @Get('dead-letters')
  @ApiOperation({ summary: 'List dead letters', description: 'Operators: processing jobs that failed every attempt, newest first.' })
  deadLetters(@Query() q: DeadLettersQueryDto): Promise<DeadLetterPageDto> {
    return this.admin.deadLetters(q.offset, q.limit);
  }

  @Post('dead-letters/:id/retry')
  @HttpCode(202)
  @ApiProblem(404, 'No dead letter has this id, or its asset is gone', [ErrorCode.NotFound, ErrorCode.AssetNotFound])
  @ApiOperation({ summary: 'Retry a dead letter', description: 'Operators: queues the failed job again.' })
  retry(@Param('id') id: string): Promise<DeadLetterRetryDto> {
    return this.admin.retry(id);
  }

  /** Runs the reconciliation sweep now (it also runs every RECONCILE_INTERVAL_MS) and reports what it did. */
  @Post('reconcile')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run reconciliation now',
    description:
      'Operators: runs the reconciliation sweep now (it also runs every RECONCILE_INTERVAL_MS): uploads whose bytes arrived without a completion call are completed. Answers what it did. Takes no body.',
  })
  reconcile(): Promise<ReconcileReportDto> {
    return this.reconciliation.sweep();
  }
}
