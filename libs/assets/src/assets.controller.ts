import { Controller, Delete, Get, HttpCode, Query, Res } from '@nestjs/common';
import { AssetAccess, CurrentAssetAccess, CurrentPrincipal, OptionalAuth, Principal, RequireAssetAccess } from '@app/core';
import type { FastifyReply } from 'fastify';
import { AssetPage, AssetsService, AssetView, DownloadLink } from './assets.service';
import { AssetStatusWaiter } from './asset-status.waiter';
import { ListAssetsQueryDto } from './list-assets.dto';

@Controller('media')
export class AssetsController {
  constructor(
    private readonly assets: AssetsService,
    private readonly statusWaiter: AssetStatusWaiter,
  ) {}

  /** The assets the caller can read, newest first, filtered; `nextCursor` pages on. */
  @Get()
  list(@Query() query: ListAssetsQueryDto, @CurrentPrincipal() principal: Principal): Promise<AssetPage> {
    return this.assets.list(query, principal);
  }

  /** `?waitFor=ready&timeout=20` long-polls: answers once the asset is settled (ready/failed/quarantined) or after `timeout` s (max 30). */
  @Get(':id')
  @OptionalAuth()
  @RequireAssetAccess('read')
  get(
    @CurrentAssetAccess() access: AssetAccess,
    @Query('waitFor') waitFor: string | undefined,
    @Query('timeout') timeout: string | undefined,
  ): Promise<AssetView> {
    if (waitFor === undefined && timeout === undefined) return this.assets.view(access);
    return this.statusWaiter.viewWhenSettled(access, { waitFor, timeout });
  }

  /** 302 to a short-lived signed URL (Range, ETag, Content-Disposition are served there); `?redirect=false` returns it as JSON. */
  @Get(':id/download')
  @OptionalAuth()
  @RequireAssetAccess('read')
  async download(
    @CurrentAssetAccess() access: AssetAccess,
    @Query('redirect') redirect: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DownloadLink> {
    const link = await this.assets.downloadLink(access);
    reply.header('cache-control', 'no-store');
    if (redirect !== 'false') reply.status(302).header('location', link.url);
    return link;
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireAssetAccess('delete')
  async remove(@CurrentAssetAccess() access: AssetAccess): Promise<void> {
    await this.assets.delete(access);
  }
}
