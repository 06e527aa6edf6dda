import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblem, AssetAccess, CurrentAssetAccess, ErrorCode, OptionalAuth, RequireAssetAccess } from '@app/core';
import { AssetMetadataView, SetMetadataValueDto } from './metadata.dto';
import { MetadataService } from './metadata.service';

/** Tags on one asset. Reading needs `read`; changing needs `write` (the owner holds it implicitly). */
@ApiTags('metadata')
@Controller('media/:id/metadata')
export class MetadataController {
  constructor(private readonly metadata: MetadataService) {}

  @Get()
  @OptionalAuth()
  @RequireAssetAccess('read')
  @ApiOperation({ summary: 'List metadata', description: "The asset's tags (key/value), including the reserved keys processing writes." })
  async list(@CurrentAssetAccess() access: AssetAccess): Promise<AssetMetadataView> {
    return { assetId: access.assetId, metadata: await this.metadata.getCached(access.assetId) };
  }

  @Put(':key')
  @ApiBody({ type: SetMetadataValueDto, examples: { tag: { summary: 'PUT /media/{id}/metadata/project', value: { value: 'conf-2026' } } } })
  @RequireAssetAccess('write')
  @ApiProblem(403, 'No `write` on the asset, or the key is in a reserved namespace', [ErrorCode.Forbidden, ErrorCode.ReservedMetadataKey])
  @ApiProblem(409, 'The asset already has the most keys allowed', [ErrorCode.MetadataLimitExceeded])
  @ApiOperation({
    summary: 'Set a metadata key',
    description: 'Sets one tag on the asset (needs `write`); keys in the reserved namespace are written by processing only.',
  })
  async set(
    @CurrentAssetAccess() access: AssetAccess,
    @Param('key') key: string,
    @Body() body: SetMetadataValueDto,
  ): Promise<AssetMetadataView> {
    return { assetId: access.assetId, metadata: await this.metadata.setUserKey(access.assetId, key, body.value) };
  }

  @Delete(':key')
  @HttpCode(204)
  @RequireAssetAccess('write')
  @ApiProblem(403, 'No `write` on the asset, or the key is in a reserved namespace', [ErrorCode.Forbidden, ErrorCode.ReservedMetadataKey])
  @ApiProblem(404, 'No such asset, or no such key', [ErrorCode.AssetNotFound, ErrorCode.MetadataKeyNotFound])
  @ApiOperation({ summary: 'Delete a metadata key', description: 'Removes one tag from the asset (needs `write`).' })
  async remove(@CurrentAssetAccess() access: AssetAccess, @Param('key') key: string): Promise<void> {
    await this.metadata.removeUserKey(access.assetId, key);
  }
}
