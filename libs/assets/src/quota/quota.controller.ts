import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { AdminOnly, checkUserIdParam, CurrentPrincipal, Principal } from '@app/core';
import { SetQuotaDto } from './quota.dto';
import { QuotaService } from './quota.service';
import { QuotaViewDto } from './quota-view.dto';

const checkOwnerId = (ownerId: string) => checkUserIdParam(ownerId, 'ownerId');

@ApiTags('quota')
@Controller()
export class QuotaController {
  constructor(private readonly quotas: QuotaService) {}

  /** The caller's own limits and usage. */
  @Get('quota')
  mine(@CurrentPrincipal() principal: Principal): Promise<QuotaViewDto> {
    return this.quotas.view(principal.userId);
  }

  @Get('admin/quotas/:ownerId')
  @AdminOnly()
  get(@Param('ownerId') ownerId: string): Promise<QuotaViewDto> {
    return this.quotas.view(checkOwnerId(ownerId));
  }

  @Put('admin/quotas/:ownerId')
  @AdminOnly()
  set(@Param('ownerId') ownerId: string, @Body() body: SetQuotaDto): Promise<QuotaViewDto> {
    return this.quotas.setOverride(checkOwnerId(ownerId), { maxBytes: body.maxBytes, maxAssets: body.maxAssets });
  }
}
