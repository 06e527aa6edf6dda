import { applyDecorators, Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AssetAccess, CurrentAssetAccess, ErrorCode, OptionalAuth, RequireAssetAccess } from '@app/core';
import { DownloadLinkDto, redirectResponse } from '@app/assets';
import type { FastifyReply } from 'fastify';
import { DerivativeKind } from '../processing.constants';
import { DerivedMediaService } from './derived-media.service';

/**
 * `GET /media/:id/thumbnail` (256 px) and `/preview` (1024 px): 302 to a signed WebP URL, like /download. A kind
 * processing did not make before `ready` (DERIVED_MEDIA_EAGER) is rendered on its first request.
 */
const derivedDocs = [
  ApiQuery({
    name: 'redirect',
    required: false,
    enum: ['true', 'false'],
    description: '`false`: answer 200 with the link instead of a 302',
  }),
  ApiResponse(redirectResponse('Redirect to the signed WebP URL (`Location`); the body carries the same link')),
  ApiOkResponse({ type: DownloadLinkDto, description: 'With `?redirect=false`: the signed URL' }),
  ApiProblem(409, 'The asset is not ready', [ErrorCode.AssetNotReady]),
  ApiProblem(404, 'No such asset (or no read access), or it has no such rendition (only images get one)', [
    ErrorCode.AssetNotFound,
    ErrorCode.NotFound,
  ]),
  ApiProblem(
    503,
    'A derivative made on its first request (not in DERIVED_MEDIA_EAGER) found every render slot and the queue taken (RenderBusy), or a backing service is unavailable; retry after `Retry-After` seconds',
    [ErrorCode.RenderBusy, ErrorCode.ServiceUnavailable, ErrorCode.StorageUnavailable],
  ),
];

@ApiTags('processing')
@Controller('media')
export class DerivedMediaController {
  constructor(private readonly derived: DerivedMediaService) {}

  @Get(':id/thumbnail')
  @OptionalAuth()
  @RequireAssetAccess('read')
  @applyDecorators(...derivedDocs)
  @ApiOperation({
    summary: 'Get the thumbnail',
    description:
      'Redirects (302) to a signed URL of the 256 px WebP thumbnail of an image asset; `?redirect=false` answers the link as JSON.',
  })
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
  @ApiOperation({
    summary: 'Get the preview',
    description:
      'Redirects (302) to a signed URL of the 1024 px WebP preview of an image asset; `?redirect=false` answers the link as JSON.',
  })
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
