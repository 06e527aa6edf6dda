import { Controller, Delete, Get, HttpCode, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
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
import { redirectResponse } from './redirect-response';
import { ListAssetsQueryDto } from './list-assets.dto';
import { LISTABLE_STATUSES } from './asset-list.query';

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
  // What the server reads: one comma-separated list (style form, explode false: `status=ready,processing`), which is
  // what generated clients send; repeating the parameter (`status=ready&status=processing`) is accepted as well.
  @ApiQuery({
    name: 'status',
    required: false,
    style: 'form',
    explode: false,
    schema: { type: 'array', items: { type: 'string', enum: LISTABLE_STATUSES } },
    description:
      'Only assets in one of these statuses, comma-separated (`status=ready,processing`); repeating the parameter is accepted too. ' +
      'Deleted assets are never listed.',
  })
  @ApiOperation({
    summary: 'List assets',
    description:
      'The assets the caller can read (own, shared, public), newest first, filtered by owner, status, media type, tags and creation time; `nextCursor` fetches the next page.',
  })
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
  @ApiOperation({
    summary: 'Get an asset',
    description:
      'The asset: status, sizes, types, checksum, dimensions and metadata. With `?waitFor=ready`, long-polls until the asset is settled (ready, failed or quarantined) or `timeout` seconds pass.',
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
  @ApiResponse(redirectResponse('Redirect to the signed URL (`Location`); the body carries the same link'))
  @ApiOkResponse({ type: DownloadLinkDto, description: 'With `?redirect=false`: the signed URL' })
  @ApiProblem(409, 'The asset is not ready (no bytes to serve)', [ErrorCode.AssetNotReady])
  @ApiOperation({
    summary: 'Download an asset',
    description:
      'Redirects (302) to a short-lived signed URL that serves the bytes (Range, ETag and Content-Disposition are handled there); `?redirect=false` answers the link as JSON instead.',
  })
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
  @ApiOperation({
    summary: 'Delete an asset',
    description: 'Marks the asset deleted; its bytes are removed once no other asset shares them. Needs `delete` (the owner holds it).',
  })
  async remove(@CurrentAssetAccess() access: AssetAccess): Promise<void> {
    await this.state.delete(access);
  }
}
