import { Controller, Delete, Get, HttpCode, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  ApiProblem,
  AssetAccess,
  CurrentAssetAccess,
  CurrentPrincipal,
  ErrorCode,
  OptionalAuth,
  Principal,
  RequireAssetAccess,
} from '@app/core';
import type { FastifyReply } from 'fastify';
import { AssetQueryService } from './asset-query.service';
import { AssetStateService } from './asset-state.service';
import { AssetPageDto, AssetViewDto, DownloadLinkDto } from './asset-view.dto';
import { AssetStatusWaiter, MAX_WAIT_SECONDS } from './asset-status.waiter';
import { ListAssetsQueryDto } from './list-assets.dto';

@ApiTags('media')
@Controller('media')
export class AssetsController {
  constructor(
    private readonly assets: AssetQueryService,
    private readonly state: AssetStateService,
    private readonly statusWaiter: AssetStatusWaiter,
  ) {}

  /** The assets the caller can read, newest first, filtered; `nextCursor` pages on. */
  @Get()
  list(@Query() query: ListAssetsQueryDto, @CurrentPrincipal() principal: Principal): Promise<AssetPageDto> {
    return this.assets.list(query, principal);
  }

  /** `?waitFor=ready&timeout=20` long-polls: answers once the asset is settled (ready/failed/quarantined) or after `timeout` s (max 30). */
  @Get(':id')
  @OptionalAuth()
  @RequireAssetAccess('read')
  @ApiQuery({ name: 'waitFor', required: false, enum: ['ready'], description: 'Long-poll until the asset is ready, failed or quarantined' })
  @ApiQuery({
    name: 'timeout',
    required: false,
    schema: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SECONDS, default: 20 },
    description: 'Seconds to wait at most',
  })
  get(
    @CurrentAssetAccess() access: AssetAccess,
    @Query('waitFor') waitFor: string | undefined,
    @Query('timeout') timeout: string | undefined,
  ): Promise<AssetViewDto> {
    if (waitFor === undefined && timeout === undefined) return this.assets.view(access);
    return this.statusWaiter.viewWhenSettled(access, { waitFor, timeout });
  }

  /** 302 to a short-lived signed URL (Range, ETag, Content-Disposition are served there); `?redirect=false` returns it as JSON. */
  @Get(':id/download')
  @OptionalAuth()
  @RequireAssetAccess('read')
  @ApiQuery({
    name: 'redirect',
    required: false,
    enum: ['true', 'false'],
    description: '`false`: answer 200 with the link instead of a 302',
  })
  @ApiResponse({ status: 302, description: 'Redirect to the signed URL (`Location`); the body carries the link too' })
  @ApiOkResponse({ type: DownloadLinkDto, description: 'With `?redirect=false`: the signed URL' })
  @ApiProblem(409, 'The asset is not ready (no bytes to serve)', [ErrorCode.AssetNotReady])
  async download(
    @CurrentAssetAccess() access: AssetAccess,
    @Query('redirect') redirect: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DownloadLinkDto> {
    const link = await this.assets.downloadLink(access);
    reply.header('cache-control', 'no-store');
    if (redirect !== 'false') reply.status(302).header('location', link.url);
    return link;
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireAssetAccess('delete')
  async remove(@CurrentAssetAccess() access: AssetAccess): Promise<void> {
    await this.state.delete(access);
  }
}
