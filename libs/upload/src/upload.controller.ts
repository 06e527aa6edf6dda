import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { AssetAccess, CurrentAssetAccess, CurrentPrincipal, Principal, RateLimited, RequireAssetAccess } from '@app/core';
import { CreateUploadUrlDto } from './create-upload-url.dto';
import { UploadUrlResponse, UploadUrlService } from './upload-url.service';

@Controller('media')
export class UploadController {
  constructor(private readonly uploads: UploadUrlService) {}

  @Post('upload-url')
  @HttpCode(201)
  @RateLimited()
  create(@Body() dto: CreateUploadUrlDto, @CurrentPrincipal() principal: Principal): Promise<UploadUrlResponse> {
    return this.uploads.create(dto, principal);
  }

  @Post(':id/complete')
  @HttpCode(202)
  @RequireAssetAccess('write')
  complete(@CurrentAssetAccess() access: AssetAccess) {
    return this.uploads.complete(access);
  }
}
