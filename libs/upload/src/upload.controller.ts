import { Body, Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiExtraModels, ApiTags, getSchemaPath } from '@nestjs/swagger';
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
  @ApiExtraModels(UploadUrlDto, MultipartUploadDto)
  @ApiCreatedResponse({
    description: 'A signed single PUT/POST, or (large files, or `multipart: true`) a multipart session',
    schema: { oneOf: [{ $ref: getSchemaPath(UploadUrlDto) }, { $ref: getSchemaPath(MultipartUploadDto) }] },
  })
  create(@Body() dto: CreateUploadUrlDto, @CurrentPrincipal() principal: Principal): Promise<UploadUrlDto | MultipartUploadDto> {
    return this.uploads.create(dto, principal);
  }

  /** The bytes are in storage: processing starts (idempotent; answers the status reached). */
  @Post(':id/complete')
  @HttpCode(202)
  @JsonBodyLimit(COMPLETE_UPLOAD_BODY_MAX_BYTES)
  @RequireAssetAccess('write')
  @ApiProblem(409, 'No bytes have been uploaded for the asset yet', [ErrorCode.ObjectNotUploaded])
  @ApiProblem(400, 'Multipart: the part list does not match what storage holds (details.partNumber names the part)', [
    ErrorCode.UploadMismatch,
  ])
  @ApiBody({ type: CompleteUploadDto, required: false, description: 'Multipart uploads only: the part list' })
  complete(@CurrentAssetAccess() access: AssetAccess, @Body() dto: CompleteUploadDto): Promise<CompleteUploadResultDto> {
    return this.uploads.complete(access, dto ?? {});
  }

  /** Multipart: signs more part URLs. */
  @Post(':id/parts')
  @HttpCode(200)
  @RequireAssetAccess('write')
  signParts(@CurrentAssetAccess() access: AssetAccess, @Body() dto: SignPartsDto): Promise<SignedPartsDto> {
    return this.multipart.signMore(access, dto.partNumbers);
  }

  /** Multipart: the parts storage holds so far (to resume). */
  @Get(':id/parts')
  @RequireAssetAccess('write')
  listParts(@CurrentAssetAccess() access: AssetAccess): Promise<PartListDto> {
    return this.multipart.listParts(access);
  }

  /** Multipart: abandons the upload (parts dropped, asset deleted, quota freed). */
  @Delete(':id/upload')
  @HttpCode(204)
  @RequireAssetAccess('write')
  @ApiProblem(409, 'The upload is complete (or was a single PUT): delete the asset instead', [ErrorCode.AssetStateConflict])
  async abort(@CurrentAssetAccess() access: AssetAccess): Promise<void> {
    await this.multipart.abort(access);
  }
}
