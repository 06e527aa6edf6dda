import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { AssetAccess, CurrentAssetAccess, OptionalAuth, RequireAssetAccess } from '@app/core';
import { AssetMetadataView, SetMetadataValueDto } from './metadata.dto';
import { MetadataService } from './metadata.service';

/** Tags on one asset. Reading needs `read`; changing needs `write` (the owner holds it implicitly). */
@Controller('media/:id/metadata')
export class MetadataController {
  constructor(private readonly metadata: MetadataService) {}

  @Get()
  @OptionalAuth()
  @RequireAssetAccess('read')
  async list(@CurrentAssetAccess() access: AssetAccess): Promise<AssetMetadataView> {
    return { assetId: access.assetId, metadata: await this.metadata.getCached(access.assetId) };
  }

  @Put(':key')
  @RequireAssetAccess('write')
  async set(@CurrentAssetAccess() access: AssetAccess, @Param('key') key: string, @Body() body: SetMetadataValueDto): Promise<AssetMetadataView> {
    return { assetId: access.assetId, metadata: await this.metadata.setUserKey(access.assetId, key, body.value) };
  }

  @Delete(':key')
  @HttpCode(204)
  @RequireAssetAccess('write')
  async remove(@CurrentAssetAccess() access: AssetAccess, @Param('key') key: string): Promise<void> {
    await this.metadata.removeUserKey(access.assetId, key);
  }
}
