import { Body, Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiExtraModels, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import {
  ApiProblem,
  AssetAccess,
  CurrentAssetAccess,
  CurrentPrincipal,
  ErrorCode,
  JsonBodyLimit,
  Principal,
  RateLimited,
  RequireAssetAccess,
} from '@app/core';
import { CREATE_UPLOAD_URL_BODY_MAX_BYTES, CreateUploadUrlDto } from './create-upload-url.dto';
import { COMPLETE_UPLOAD_BODY_MAX_BYTES, CompleteUploadDto, SignPartsDto } from './multipart/multipart.dto';
import { MultipartUploadService } from './multipart/multipart-upload.service';
import { UploadUrlService } from './upload-url.service';
import { CompleteUploadResultDto, MultipartUploadDto, PartListDto, SignedPartsDto, UploadUrlDto } from './upload-url.dto';

@ApiTags('upload')
@Controller('media')
export class UploadController {
  constructor(
    private readonly uploads: UploadUrlService,
    private readonly multipart: MultipartUploadService,
  ) {}

  /** Creates a `pending` asset and signs where its bytes go (bound to the declared size, type and checksum). */
  @Post('upload-url')
  @HttpCode(201)
  @JsonBodyLimit(CREATE_UPLOAD_URL_BODY_MAX_BYTES)
  @RateLimited()
  @ApiProblem(
    413,
    "Larger than MAX_UPLOAD_BYTES (MAX_MULTIPART_UPLOAD_BYTES for multipart) or the bucket's fileSizeLimit, or over the byte quota",
    [ErrorCode.PayloadTooLarge, ErrorCode.QuotaBytesExceeded],
  )
  @ApiProblem(400, 'Invalid body or path, or the bucket does not accept the declared type (MimeTypeNotAllowed names it)', [
    ErrorCode.ValidationFailed,
    ErrorCode.InvalidRequest,
    ErrorCode.MimeTypeNotAllowed,
  ])
  @ApiProblem(403, 'The caller may read the bucket but not write into it', [ErrorCode.Forbidden])
  @ApiProblem(404, 'No such bucket, or the caller holds nothing on it', [ErrorCode.BucketNotFound])
  @ApiProblem(409, 'A live asset already has this path in the bucket', [ErrorCode.PathTaken])
  @ApiProblem(403, '`metadata` names a key in a reserved namespace (processing writes those)', [ErrorCode.ReservedMetadataKey])
  @ApiBody({
    type: CreateUploadUrlDto,
    examples: {
      photo: {
        summary: 'A photo, one signed PUT',
        value: {
          filename: 'holiday.jpg',
          mimeType: 'image/jpeg',
          sizeBytes: 2483117,
          checksumSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
        },
      },
      video: {
        summary: 'A large video, multipart, shared with a group and tagged',
        value: {
          filename: 'talk.mp4',
          mimeType: 'video/mp4',
          sizeBytes: 734003200,
          multipart: true,
          acl: [{ principal: 'group:editors', permission: 'read' }],
          metadata: { project: 'conf-2026' },
        },
      },
    },
  })
  @ApiExtraModels(UploadUrlDto, MultipartUploadDto)
  @ApiCreatedResponse({
    description: 'A signed single PUT/POST, or (large files, or `multipart: true`) a multipart session',
    schema: { oneOf: [{ $ref: getSchemaPath(UploadUrlDto) }, { $ref: getSchemaPath(MultipartUploadDto) }] },
  })
  @ApiOperation({
    summary: 'Start an upload',
    description:
      'Creates a `pending` asset and answers where to send its bytes: one signed PUT (or POST form) URL with the headers to send, or, for large files (`multipart: true`), the first signed part URLs. The URL is bound to the declared size, type and checksum; quota and the per-caller rate limit are checked first.',
  })
  create(@Body() dto: CreateUploadUrlDto, @CurrentPrincipal() principal: Principal): Promise<UploadUrlDto | MultipartUploadDto> {
    return this.uploads.create(dto, principal);
  }

  /** The bytes are in storage: processing starts (idempotent; answers the status reached). */
  @Post(':id/complete')
  @HttpCode(202)
  @JsonBodyLimit(COMPLETE_UPLOAD_BODY_MAX_BYTES)
  @RequireAssetAccess('write')
  @ApiProblem(
    409,
    'No bytes have been uploaded for the asset yet; or (multipart) the upload was aborted, expired or changed state, or is being assembled from another part list',
    [ErrorCode.ObjectNotUploaded, ErrorCode.AssetStateConflict],
  )
  @ApiProblem(400, 'Multipart: the part list misses or repeats a part, or names one beyond partCount (details.partNumber names it)', [
    ErrorCode.UploadMismatch,
  ])
  @ApiBody({
    type: CompleteUploadDto,
    required: false,
    description:
      'Multipart uploads only: the part list. Single uploads send no body (an empty body with a JSON Content-Type is no body too).',
    examples: {
      single: { summary: 'A single PUT or POST upload: no body', value: {} },
      multipart: {
        summary: 'A multipart upload: every part with the ETag storage answered',
        value: {
          parts: [
            { partNumber: 1, etag: '"9b2cf535f27731c974343645a3985328"' },
            { partNumber: 2, etag: '"6f5902ac237024bdd0c176cb93063dc4"' },
          ],
        },
      },
    },
  })
  @ApiOperation({
    summary: 'Complete an upload',
    description:
      'Tells the service the bytes are in storage: processing starts (checksum, type sniffing, metadata, virus scan, thumbnails). Idempotent; answers the status reached. A body is needed only for multipart uploads (the part list); single uploads send none. Multipart: answers 202 at once (status `pending`, `upload.state` `assembling`) and assembles the object in the background; the list is checked against storage there, and a mismatch (a part missing, a wrong ETag or size) shows as `upload.state` `failed` with `upload.error` on GET /media/{id} and GET /media/{id}/parts — complete again with the right list.',
  })
  complete(@CurrentAssetAccess() access: AssetAccess, @Body() dto: CompleteUploadDto): Promise<CompleteUploadResultDto> {
    return this.uploads.complete(access, dto ?? {});
  }

  /** Multipart: signs more part URLs. */
  @Post(':id/parts')
  @HttpCode(200)
  @RequireAssetAccess('write')
  @ApiProblem(409, 'Not a multipart upload, or it is no longer in progress', [ErrorCode.AssetStateConflict])
  @ApiOperation({
    summary: 'Sign more part URLs',
    description: 'Multipart uploads: signs URLs for the given part numbers (for example to resume, or because earlier ones expired).',
  })
  signParts(@CurrentAssetAccess() access: AssetAccess, @Body() dto: SignPartsDto): Promise<SignedPartsDto> {
    return this.multipart.signMore(access, dto.partNumbers);
  }

  /** Multipart: the parts storage holds so far (to resume). */
  @Get(':id/parts')
  @RequireAssetAccess('write')
  @ApiProblem(409, 'Not a multipart upload, or it is no longer in progress', [ErrorCode.AssetStateConflict])
  @ApiOperation({
    summary: 'List uploaded parts',
    description: 'Multipart uploads: the parts storage holds so far, with their ETags, to resume an interrupted upload.',
  })
  listParts(@CurrentAssetAccess() access: AssetAccess): Promise<PartListDto> {
    return this.multipart.listParts(access);
  }

  /** Multipart: abandons the upload (parts dropped, asset deleted, quota freed). */
  @Delete(':id/upload')
  @HttpCode(204)
  @RequireAssetAccess('write')
  @ApiProblem(409, 'The upload is complete (or was a single PUT): delete the asset instead', [ErrorCode.AssetStateConflict])
  @ApiOperation({
    summary: 'Abort a multipart upload',
    description: 'Multipart uploads: abandons the upload; its parts are dropped, the asset deleted and the quota freed.',
  })
  async abort(@CurrentAssetAccess() access: AssetAccess): Promise<void> {
    await this.multipart.abort(access);
  }
}
