import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { AssetAccess, CurrentAssetAccess, RequireAssetAccess } from '@app/core';
import { AclEntryDto, ReplaceAclDto } from './acl.dto';
import { AclService, AclView } from './acl.service';

/** Sharing an asset. Only its owner may view or change the list. */
@Controller('media/:id/acl')
export class AclController {
  constructor(private readonly acl: AclService) {}

  @Get()
  @RequireAssetAccess('owner')
  get(@CurrentAssetAccess() access: AssetAccess): Promise<AclView> {
    return this.acl.view(access);
  }

  /** Replaces the whole list. */
  @Put()
  @RequireAssetAccess('owner')
  replace(@CurrentAssetAccess() access: AssetAccess, @Body() body: ReplaceAclDto): Promise<AclView> {
    return this.acl.replace(access, body.entries);
  }

  /** Grants one entry (idempotent); answers with the list. */
  @Post()
  @HttpCode(200)
  @RequireAssetAccess('owner')
  grant(@CurrentAssetAccess() access: AssetAccess, @Body() body: AclEntryDto): Promise<AclView> {
    return this.acl.grant(access, body);
  }

  /** Revokes one entry, e.g. DELETE /media/{id}/acl/group:editors/write (`*` may be sent as %2A). */
  @Delete(':principal/:permission')
  @HttpCode(204)
  @RequireAssetAccess('owner')
  async revoke(@CurrentAssetAccess() access: AssetAccess, @Param('principal') principal: string, @Param('permission') permission: string): Promise<void> {
    await this.acl.revoke(access, principal, permission);
  }
}
