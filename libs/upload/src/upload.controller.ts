import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiProblem, AssetAccess, CurrentAssetAccess, CurrentPrincipal, ErrorCode, Principal, RateLimited, RequireAssetAccess } from '@app/core';
import { CreateUploadUrlDto } from './create-upload-url.dto';
import { UploadUrlService } from './upload-url.service';
import { CompleteUploadDto, UploadUrlDto } from './upload-url.dto';

@ApiTags('upload')
@Controller('media')
export class UploadController {
  constructor(private readonly uploads: UploadUrlService) {}

  /** Creates a `pending` asset and signs where its bytes go (bound to the declared size, type and checksum). */
  @Post('upload-url')
  @HttpCode(201)
  @RateLimited()
  @ApiProblem(413, 'Larger than MAX_UPLOAD_BYTES, or over the byte quota', [ErrorCode.PayloadTooLarge, ErrorCode.QuotaBytesExceeded])
  create(@Body() dto: CreateUploadUrlDto, @CurrentPrincipal() principal: Principal): Promise<UploadUrlDto> {
    return this.uploads.create(dto, principal);
  }

  /** The bytes are in storage: processing starts (idempotent; answers the status reached). */
  @Post(':id/complete')
  @HttpCode(202)
  @RequireAssetAccess('write')
  @ApiProblem(409, 'No bytes have been uploaded for the asset yet', [ErrorCode.ObjectNotUploaded])
  complete(@CurrentAssetAccess() access: AssetAccess): Promise<CompleteUploadDto> {
    return this.uploads.complete(access);
  }
}
