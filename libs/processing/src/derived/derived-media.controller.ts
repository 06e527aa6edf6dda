import { Controller, Get, Query, Res } from '@nestjs/common';
import { AssetAccess, CurrentAssetAccess, OptionalAuth, RequireAssetAccess } from '@app/core';
import type { DownloadLink } from '@app/assets';
import type { FastifyReply } from 'fastify';
import { DerivativeKind } from '../processing.constants';
import { DerivedMediaService } from './derived-media.service';

/** `GET /media/:id/thumbnail` (256 px) and `/preview` (1024 px): 302 to a signed WebP URL, like /download. */
@Controller('media')
export class DerivedMediaController {
  constructor(private readonly derived: DerivedMediaService) {}

  @Get(':id/thumbnail')
  @OptionalAuth()
  @RequireAssetAccess('read')
  thumbnail(@CurrentAssetAccess() access: AssetAccess, @Query('redirect') redirect: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.serve(access, 'thumbnail', redirect, reply);
  }

  @Get(':id/preview')
  @OptionalAuth()
  @RequireAssetAccess('read')
  preview(@CurrentAssetAccess() access: AssetAccess, @Query('redirect') redirect: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.serve(access, 'preview', redirect, reply);
  }

  private async serve(access: AssetAccess, kind: DerivativeKind, redirect: string | undefined, reply: FastifyReply): Promise<DownloadLink> {
    const link = await this.derived.signedUrl(access, kind);
    reply.header('cache-control', 'no-store');
    if (redirect !== 'false') reply.status(302).header('location', link.url);
    return link;
  }
}
