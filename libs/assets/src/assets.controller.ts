import { Controller, Delete, Get, HttpCode, Param, Query, Res } from '@nestjs/common';
import { AssetIdPipe, CurrentPrincipal, Principal } from '@app/core';
import type { FastifyReply } from 'fastify';
import { AssetsService, AssetView, DownloadLink } from './assets.service';

@Controller('media')
export class AssetsController {
  constructor(private readonly assets: AssetsService) {}

  @Get(':id')
  get(@Param('id', AssetIdPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<AssetView> {
    return this.assets.view(id, principal);
  }

  /** 302 to a short-lived signed URL (Range, ETag, Content-Disposition are served there); `?redirect=false` returns it as JSON. */
  @Get(':id/download')
  async download(
    @Param('id', AssetIdPipe) id: string,
    @Query('redirect') redirect: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DownloadLink> {
    const link = await this.assets.downloadLink(id, principal);
    reply.header('cache-control', 'no-store');
    if (redirect !== 'false') reply.status(302).header('location', link.url);
    return link;
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id', AssetIdPipe) id: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.assets.delete(id, principal);
  }
}
