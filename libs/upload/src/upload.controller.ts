import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { AssetIdPipe, CurrentPrincipal, Principal } from '@app/core';
import { CreateUploadUrlDto } from './create-upload-url.dto';
import { UploadUrlResponse, UploadUrlService } from './upload-url.service';

@Controller('media')
export class UploadController {
  constructor(private readonly uploads: UploadUrlService) {}

  @Post('upload-url')
  @HttpCode(201)
  create(@Body() dto: CreateUploadUrlDto, @CurrentPrincipal() principal: Principal): Promise<UploadUrlResponse> {
    return this.uploads.create(dto, principal);
  }

  @Post(':id/complete')
  @HttpCode(202)
  complete(@Param('id', AssetIdPipe) id: string, @CurrentPrincipal() principal: Principal) {
    return this.uploads.complete(id, principal);
  }
}
