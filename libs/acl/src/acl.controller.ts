import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ApiProblem, AssetAccess, CurrentAssetAccess, ErrorCode, RequireAssetAccess } from '@app/core';
import { AclEntryDto, ReplaceAclDto } from './acl.dto';
import { AclService } from './acl.service';
import { AclViewDto } from './acl-view.dto';

/** Sharing an asset. Only its owner may view or change the list. */
@ApiTags('acl')
@Controller('media/:id/acl')
export class AclController {
  constructor(private readonly acl: AclService) {}

  @Get()
  @RequireAssetAccess('owner')
  get(@CurrentAssetAccess() access: AssetAccess): Promise<AclViewDto> {
    return this.acl.view(access);
  }

  /** Replaces the whole list. */
  @Put()
  @RequireAssetAccess('owner')
  replace(@CurrentAssetAccess() access: AssetAccess, @Body() body: ReplaceAclDto): Promise<AclViewDto> {
    return this.acl.replace(access, body.entries);
  }

  /** Grants one entry (idempotent); answers with the list. */
  @Post()
  @HttpCode(200)
  @RequireAssetAccess('owner')
  grant(@CurrentAssetAccess() access: AssetAccess, @Body() body: AclEntryDto): Promise<AclViewDto> {
    return this.acl.grant(access, body);
  }

  /** Revokes one entry, e.g. DELETE /media/{id}/acl/group:editors/write (`*` may be sent as %2A). */
  @Delete(':principal/:permission')
  @HttpCode(204)
  @RequireAssetAccess('owner')
  @ApiProblem(404, 'No such asset, or no such grant', [ErrorCode.AssetNotFound, ErrorCode.AclEntryNotFound])
  async revoke(
    @CurrentAssetAccess() access: AssetAccess,
    @Param('principal') principal: string,
    @Param('permission') permission: string,
  ): Promise<void> {
    await this.acl.revoke(access, principal, permission);
  }
}
