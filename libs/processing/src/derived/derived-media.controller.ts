import { applyDecorators, Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AssetAccess, CurrentAssetAccess, ErrorCode, OptionalAuth, RequireAssetAccess } from '@app/core';
import { DownloadLinkDto } from '@app/assets';
import type { FastifyReply } from 'fastify';
import { DerivativeKind } from '../processing.constants';
import { DerivedMediaService } from './derived-media.service';

/** `GET /media/:id/thumbnail` (256 px) and `/preview` (1024 px): 302 to a signed WebP URL, like /download. */
const derivedDocs = [
  ApiQuery({
    name: 'redirect',
    required: false,
    enum: ['true', 'false'],
    description: '`false`: answer 200 with the link instead of a 302',
  }),
  ApiResponse({ status: 302, description: 'Redirect to the signed WebP URL (`Location`)' }),
  ApiOkResponse({ type: DownloadLinkDto, description: 'With `?redirect=false`: the signed URL' }),
  ApiProblem(409, 'The asset is not ready', [ErrorCode.AssetNotReady]),
  ApiProblem(404, 'No such asset (or no read access), or it has no such rendition (only images get one)', [
    ErrorCode.AssetNotFound,
    ErrorCode.NotFound,
  ]),
];

@ApiTags('media')
@Controller('media')
export class DerivedMediaController {
  constructor(private readonly derived: DerivedMediaService) {}

  @Get(':id/thumbnail')
  @OptionalAuth()
  @RequireAssetAccess('read')
  @applyDecorators(...derivedDocs)
  thumbnail(
    @CurrentAssetAccess() access: AssetAccess,
    @Query('redirect') redirect: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DownloadLinkDto> {
    return this.serve(access, 'thumbnail', redirect, reply);
  }

  @Get(':id/preview')
  @OptionalAuth()
  @RequireAssetAccess('read')
  @applyDecorators(...derivedDocs)
  preview(
    @CurrentAssetAccess() access: AssetAccess,
    @Query('redirect') redirect: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DownloadLinkDto> {
    return this.serve(access, 'preview', redirect, reply);
  }

  private async serve(
    access: AssetAccess,
    kind: DerivativeKind,
    redirect: string | undefined,
    reply: FastifyReply,
  ): Promise<DownloadLinkDto> {
    const link = await this.derived.signedUrl(access, kind);
    reply.header('cache-control', 'no-store');
    if (redirect !== 'false') reply.status(302).header('location', link.url);
    return link;
  }
}
