import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AssetAccess, CurrentAssetAccess, ErrorCode, OptionalAuth, RequireAssetAccess } from '@app/core';
import { DownloadLinkDto, redirectResponse } from '@app/assets';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FITS, FORMATS, GRAVITIES, MAX_DPR, MAX_FRAME_OFFSET_SECONDS } from './render-params';
import { RenditionService } from './rendition.service';

const RENDER_DESCRIPTION = `The asset rendered to the asked size and format, as a 302 to a signed URL of the rendition (\`?redirect=false\`: \`{ url, expiresAt }\`), like \`/download\` and with the same access rule (read).

Every distinct rendition (owner, source SHA-256 and the normalised parameters) is rendered once, stored as its own object and served from storage with a strong ETag and \`Cache-Control: public, max-age=31536000, immutable\` when the asset is publicly readable (\`private\` otherwise). Output respects EXIF orientation, is converted to sRGB and carries no metadata (no EXIF, GPS, XMP). Never enlarged beyond the source unless \`enlarge=true\`. Animated GIF/WebP stay animated as WebP (\`animated=false\`: first frame); a video gives a poster frame (ffmpeg) at 1 s or \`t\`.

What callers may ask is set by the operator: \`TRANSFORMS\` (callers with a token: \`off\`, \`presets\`, \`any\`) and \`TRANSFORMS_PUBLIC\` (anonymous callers of public assets; default \`presets\`: only \`?preset=<name>\` from \`TRANSFORM_PRESETS\`). Renders not cached yet count against a per-caller limit (429); at most \`TRANSFORM_CONCURRENCY\` render at once per process, a short queue waits, then 503 with Retry-After.`;

@ApiTags('media')
@Controller('media')
export class TransformController {
  constructor(private readonly renditions: RenditionService) {}

  @Get(':id/render')
  @OptionalAuth()
  @RequireAssetAccess('read')
  @ApiOperation({
    summary: 'Render an image (resize, crop, convert) or a video poster frame; 302 to the stored rendition',
    description: RENDER_DESCRIPTION,
  })
  @ApiQuery({
    name: 'width',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 4096 },
    description: 'Width in CSS pixels (× dpr), 1–TRANSFORM_MAX_DIMENSION (default 4096)',
  })
  @ApiQuery({
    name: 'height',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 4096 },
    description: 'Height in CSS pixels (× dpr), 1–TRANSFORM_MAX_DIMENSION',
  })
  @ApiQuery({
    name: 'fit',
    required: false,
    enum: FITS,
    description:
      '`inside` (default: fits within the box), `cover` (fills it, cropped around `gravity`), `contain` (letterboxed), `fill` (stretched)',
  })
  @ApiQuery({
    name: 'format',
    required: false,
    enum: FORMATS,
    description: '`auto` (default): AVIF if the Accept header takes it, else WebP, else JPEG (the answer then varies by Accept)',
  })
  @ApiQuery({
    name: 'quality',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 100 },
    description: 'Encoder quality (AVIF default 50, WebP and JPEG 80; PNG is lossless)',
  })
  @ApiQuery({
    name: 'dpr',
    required: false,
    schema: { type: 'number', minimum: 1, maximum: MAX_DPR },
    description: 'Device pixel ratio: width and height are multiplied by it',
  })
  @ApiQuery({
    name: 'gravity',
    required: false,
    enum: GRAVITIES,
    description: 'Anchor of `cover`/`contain` (default center); `attention` crops around the most salient region',
  })
  @ApiQuery({
    name: 'enlarge',
    required: false,
    enum: ['true', 'false'],
    description: 'Allow output larger than the source (default false)',
  })
  @ApiQuery({
    name: 'animated',
    required: false,
    enum: ['true', 'false'],
    description: 'Keep the animation of a GIF/WebP (default true; needs WebP output); false: the first frame',
  })
  @ApiQuery({
    name: 't',
    required: false,
    schema: { type: 'number', minimum: 0, maximum: MAX_FRAME_OFFSET_SECONDS },
    description: 'Videos: seconds into the video of the poster frame (default 1, or the first frame of a shorter clip)',
  })
  @ApiQuery({
    name: 'preset',
    required: false,
    schema: { type: 'string', pattern: '^[a-z0-9_-]{1,64}$' },
    description: 'A named rendition from TRANSFORM_PRESETS; with TRANSFORMS=any, other parameters override it',
  })
  @ApiQuery({
    name: 'redirect',
    required: false,
    enum: ['true', 'false'],
    description: '`false`: answer 200 with the link instead of a 302',
  })
  @ApiResponse(
    redirectResponse(
      'Redirect to the signed URL of the rendition (`Location`; the body carries the link too); `Vary: Accept` when the format came from Accept',
    ),
  )
  @ApiOkResponse({ type: DownloadLinkDto, description: 'With `?redirect=false`: the signed URL of the rendition' })
  @ApiProblem(400, 'A parameter is unknown, repeated or out of range (`details.parameter` names it), or no such preset', [
    ErrorCode.ValidationFailed,
  ])
  @ApiProblem(
    403,
    'The operator does not allow this transformation for this caller (TRANSFORMS / TRANSFORMS_PUBLIC: off, or presets only)',
    [ErrorCode.TransformNotAllowed],
  )
  @ApiProblem(409, 'The asset is not ready', [ErrorCode.AssetNotReady])
  @ApiProblem(
    422,
    'The asset cannot be rendered: not an image or video, undecodable (NotRenderable), or more pixels or bytes than allowed (ImageTooLarge: decompression bombs are refused from the header, never decoded)',
    [ErrorCode.NotRenderable, ErrorCode.ImageTooLarge],
  )
  @ApiProblem(429, 'Over the per-caller limit of renders not cached yet (TRANSFORM_RATE_LIMIT_PER_MINUTE)', [ErrorCode.RateLimited])
  @ApiProblem(
    503,
    'The renderer is busy (RenderBusy: all slots and the queue taken) or the render took too long (RenderTimeout); retry after `Retry-After` seconds',
    [ErrorCode.RenderBusy, ErrorCode.RenderTimeout, ErrorCode.ServiceUnavailable, ErrorCode.StorageUnavailable],
  )
  async render(
    @CurrentAssetAccess() access: AssetAccess,
    @Query() query: Record<string, unknown>,
    @Headers('accept') accept: string | undefined,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DownloadLinkDto> {
    const answer = await this.renditions.render(access, query, accept, req.ip);
    reply.header('cache-control', 'no-store');
    if (answer.variesByAccept) {
      // Beside what the CORS hook already set on the raw response (Vary: Origin), which a reply header would replace.
      const prior = reply.raw.getHeader('vary');
      reply.header('vary', prior ? `${String(prior)}, Accept` : 'Accept');
    }
    if (query.redirect !== 'false') reply.status(302).header('location', answer.link.url);
    return answer.link;
  }
}
