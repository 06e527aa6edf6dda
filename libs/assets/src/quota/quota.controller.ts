import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
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
  @ApiOperation({ summary: 'Get my quota', description: "The caller's own limits (bytes, assets) and usage, counting pending uploads." })
  mine(@CurrentPrincipal() principal: Principal): Promise<QuotaViewDto> {
    return this.quotas.view(principal.userId);
  }

  @Get('admin/quotas/:ownerId')
  @AdminOnly()
  @ApiOperation({ summary: "Get an owner's quota", description: "Operators: an owner's limits and usage." })
  get(@Param('ownerId') ownerId: string): Promise<QuotaViewDto> {
    return this.quotas.view(checkOwnerId(ownerId));
  }

  @Put('admin/quotas/:ownerId')
  @AdminOnly()
  @ApiOperation({ summary: "Set an owner's quota", description: "Operators: sets an owner's limits (null: the service default)." })
  set(@Param('ownerId') ownerId: string, @Body() body: SetQuotaDto): Promise<QuotaViewDto> {
    return this.quotas.setOverride(checkOwnerId(ownerId), { maxBytes: body.maxBytes, maxAssets: body.maxAssets });
  }
}
