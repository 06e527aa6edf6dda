import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminOnly, Errors } from '@app/core';
import { AssetQueryService, StoredObjectViewDto } from '@app/assets';
import { DeadLetterPageDto, DeadLetterRetryDto, DeadLettersQueryDto, ReconcileReportDto } from './processing-admin.dto';
import { ProcessingAdminService } from './processing-admin.service';
import { ReconciliationService } from './reconciliation.service';

/** Operators only (a JWT whose `roles` contains "admin"): stored objects, dead letters, reconciliation. */
@ApiTags('admin')
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
  storedObject(@Param('sha256') sha256: string): Promise<StoredObjectViewDto> {
    if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
      throw Errors.validation('Path parameter "sha256" must be 64 hexadecimal digits', [
        { field: 'sha256', problems: ['must be a SHA-256 in hex'] },
      ]);
    }
    return this.assets.storedObjectView(sha256.toLowerCase());
  }

  @Get('dead-letters')
  deadLetters(@Query() q: DeadLettersQueryDto): Promise<DeadLetterPageDto> {
    return this.admin.deadLetters(q.offset, q.limit);
  }

  @Post('dead-letters/:id/retry')
  @HttpCode(202)
  retry(@Param('id') id: string): Promise<DeadLetterRetryDto> {
    return this.admin.retry(id);
  }

  /** Runs the reconciliation sweep now (it also runs every RECONCILE_INTERVAL_MS) and reports what it did. */
  @Post('reconcile')
  @HttpCode(200)
  reconcile(): Promise<ReconcileReportDto> {
    return this.reconciliation.sweep();
  }
}
