import { Controller, Get, Head, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, ErrorCode, OptionalAuth, OptionalPrincipal, Principal } from '@app/core';
import { DownloadLinkDto, redirectResponse } from '@app/assets';
import type { FastifyReply } from 'fastify';
import { ListObjectsQueryDto, ObjectPageDto } from './bucket-objects.dto';
import { BucketObjectsService } from './bucket-objects.service';

const BUCKET_PARAM = ApiParam({ name: 'bucket', description: 'Bucket name', schema: { type: 'string', minLength: 3, maxLength: 63 } });
const PATH_PARAM = ApiParam({
  name: 'path',
  description: 'The asset path in the bucket (URL-encode each segment; "/" separates folders)',
  schema: { type: 'string', minLength: 1 },
});
const REDIRECT_QUERY = ApiQuery({
  name: 'redirect',
  required: false,
  enum: ['true', 'false'],
  description: '`false`: answer 200 with the link',
});
const UNAUTHENTICATED = ApiProblem(401, 'Anonymous caller and the bucket is not public (or no such path)', [ErrorCode.Unauthenticated]);
const NOT_FOUND = ApiProblem(404, 'No live asset at this path that the caller may read', [
  ErrorCode.NotFound,
  ErrorCode.AssetNotFound,
  ErrorCode.BucketNotFound,
]);

/** Addressing assets by bucket and path: download redirects and folder-style listings. */
@ApiTags('buckets')
@Controller('buckets')
export class BucketObjectsController {
  constructor(private readonly objects: BucketObjectsService) {}

  @Get(':bucket/objects')
  @OptionalAuth()
  @BUCKET_PARAM
  @ApiOperation({
    summary: 'List a bucket (ListObjectsV2-like)',
    description:
      'Live assets in path order (byte order), under `prefix`; with `delimiter=/` deeper paths are rolled up into `prefixes` ' +
      '(folders). `limit` counts items and prefixes together; `nextCursor` is stable while assets are added or removed. ' +
      'Callers holding read on the bucket (owner, bucket grant, public) see every asset; others see the ones they own or were granted. ' +
      '`q` keeps assets whose filename or path contains the text (case- and accent-insensitive).',
  })
  @ApiOkResponse({ type: ObjectPageDto })
  @UNAUTHENTICATED
  @ApiProblem(404, 'No such bucket, or the caller holds nothing on it', [ErrorCode.BucketNotFound])
  list(@Param('bucket') bucket: string, @Query() query: ListObjectsQueryDto, @OptionalPrincipal() principal: Principal | null) {
    return this.objects.list(bucket, query, principal);
  }

  // HEAD is declared before GET: Fastify then does not add its own HEAD route for the GET.
  @Head(':bucket/objects/*')
  @OptionalAuth()
  @BUCKET_PARAM
  @PATH_PARAM
  @ApiOperation({ summary: 'Download by path (headers only)', description: 'The same answer as GET without a body.' })
  @ApiResponse({ status: 302, description: 'Redirect to the signed URL (`Location`)' })
  @ApiProblem(409, 'The asset is not ready (no bytes to serve)', [ErrorCode.AssetNotReady])
  @UNAUTHENTICATED
  @NOT_FOUND
  async head(
    @Param('bucket') bucket: string,
    @Param('*') path: string,
    @OptionalPrincipal() principal: Principal | null,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    await this.redirect(bucket, path, undefined, principal, reply);
  }

  @Get(':bucket/objects/*')
  @OptionalAuth()
  @BUCKET_PARAM
  @PATH_PARAM
  @REDIRECT_QUERY
  @ApiOperation({
    summary: 'Download by path',
    description:
      '302 to a short-lived signed URL of the asset at this path, exactly like GET /media/{id}/download (Range, ETag and ' +
      'conditional requests are served there). Anonymous callers are served in public buckets; there the link is the ' +
      'content-addressed, immutable-cacheable public URL.',
  })
  @ApiResponse(redirectResponse('Redirect to the signed URL (`Location`); the body carries the link too'))
  @ApiOkResponse({ type: DownloadLinkDto, description: 'With `?redirect=false`: the signed URL' })
  @ApiProblem(409, 'The asset is not ready (no bytes to serve)', [ErrorCode.AssetNotReady])
  @UNAUTHENTICATED
  @NOT_FOUND
  download(
    @Param('bucket') bucket: string,
    @Param('*') path: string,
    @Query('redirect') redirect: string | undefined,
    @OptionalPrincipal() principal: Principal | null,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DownloadLinkDto> {
    return this.redirect(bucket, path, redirect, principal, reply);
  }

  private async redirect(
    bucket: string,
    path: string,
    redirect: string | undefined,
    principal: Principal | null,
    reply: FastifyReply,
  ): Promise<DownloadLinkDto> {
    const link = await this.objects.downloadLink(bucket, path, principal);
    // The redirect itself is never cached: the path may point at other bytes after a move or delete.
    reply.header('cache-control', 'no-store');
    if (redirect !== 'false') reply.status(302).header('location', link.url);
    return link;
  }
}
