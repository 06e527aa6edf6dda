import { Body, Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import { AssetAccess, CurrentAssetAccess, CurrentPrincipal, Principal, RateLimited, RequireAssetAccess } from '@app/core';
import { CreateUploadUrlDto } from './create-upload-url.dto';
import { CompleteUploadDto, SignPartsDto } from './multipart/multipart.dto';
import { MultipartUploadService } from './multipart/multipart-upload.service';
import { MultipartUploadResponse, UploadUrlResponse, UploadUrlService } from './upload-url.service';

@Controller('media')
export class UploadController {
  constructor(
    private readonly uploads: UploadUrlService,
    private readonly multipart: MultipartUploadService,
  ) {}

  @Post('upload-url')
  @HttpCode(201)
  @RateLimited()
  create(@Body() dto: CreateUploadUrlDto, @CurrentPrincipal() principal: Principal): Promise<UploadUrlResponse | MultipartUploadResponse> {
    return this.uploads.create(dto, principal);
  }

  @Post(':id/complete')
  @HttpCode(202)
  @RequireAssetAccess('write')
  complete(@CurrentAssetAccess() access: AssetAccess, @Body() dto: CompleteUploadDto) {
    return this.uploads.complete(access, dto ?? {});
  }

  /** Multipart: signs more part URLs. */
  @Post(':id/parts')
  @HttpCode(200)
  @RequireAssetAccess('write')
  signParts(@CurrentAssetAccess() access: AssetAccess, @Body() dto: SignPartsDto) {
    return this.multipart.signMore(access, dto.partNumbers);
  }

  /** Multipart: the parts storage holds so far (to resume). */
  @Get(':id/parts')
  @RequireAssetAccess('write')
  listParts(@CurrentAssetAccess() access: AssetAccess) {
    return this.multipart.listParts(access);
  }

  /** Multipart: abandons the upload (parts dropped, asset deleted, quota freed). */
  @Delete(':id/upload')
  @HttpCode(204)
  @RequireAssetAccess('write')
  async abort(@CurrentAssetAccess() access: AssetAccess): Promise<void> {
    await this.multipart.abort(access);
  }
}
