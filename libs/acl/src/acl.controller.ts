import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  @ApiOperation({
    summary: 'Get the sharing list',
    description: "The asset's grants (principal and permission). Only the owner may view it.",
  })
  get(@CurrentAssetAccess() access: AssetAccess): Promise<AclViewDto> {
    return this.acl.view(access);
  }

  /** Replaces the whole list. */
  @Put()
  @RequireAssetAccess('owner')
  @ApiOperation({
    summary: 'Replace the sharing list',
    description: 'Replaces every grant of the asset at once. Only the owner may change it.',
  })
  replace(@CurrentAssetAccess() access: AssetAccess, @Body() body: ReplaceAclDto): Promise<AclViewDto> {
    return this.acl.replace(access, body.entries);
  }

  /** Grants one entry (idempotent); answers with the list. */
  @Post()
  @ApiBody({
    type: AclEntryDto,
    examples: {
      user: { summary: 'Let user 42 read', value: { principal: 'user:42', permission: 'read' } },
      group: { summary: 'Let a group write', value: { principal: 'group:editors', permission: 'write' } },
      anyone: { summary: 'Make it public', value: { principal: '*', permission: 'read' } },
    },
  })
  @HttpCode(200)
  @RequireAssetAccess('owner')
  @ApiOperation({
    summary: 'Grant access',
    description: 'Adds one grant (idempotent) and answers the whole list. Only the owner may change it.',
  })
  grant(@CurrentAssetAccess() access: AssetAccess, @Body() body: AclEntryDto): Promise<AclViewDto> {
    return this.acl.grant(access, body);
  }

  /** Revokes one entry, e.g. DELETE /media/{id}/acl/group:editors/write (`*` may be sent as %2A). */
  @Delete(':principal/:permission')
  @HttpCode(204)
  @RequireAssetAccess('owner')
  @ApiProblem(404, 'No such asset, or no such grant', [ErrorCode.AssetNotFound, ErrorCode.AclEntryNotFound])
  @ApiOperation({
    summary: 'Revoke access',
    description: 'Removes one grant, e.g. `DELETE /media/{id}/acl/group:editors/write` (`*` may be sent as `%2A`).',
  })
  async revoke(
    @CurrentAssetAccess() access: AssetAccess,
    @Param('principal') principal: string,
    @Param('permission') permission: string,
  ): Promise<void> {
    await this.acl.revoke(access, principal, permission);
  }
}
