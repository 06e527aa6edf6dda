import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDefined, IsIn, IsString, ValidateNested } from 'class-validator';
import { ASSET_PERMISSIONS, AssetPermission } from '@app/core';
import { MAX_ACL_ENTRIES } from './acl-rules';

/** One grant: `principal` is `user:<id>`, `group:<id>` or `*` (anyone; read only). */
export class AclEntryDto {
  @IsDefined({ message: 'principal is required' })
  @IsString({ message: 'principal must be a string like "user:42", "group:editors" or "*"' })
  principal: string;

  @IsDefined({ message: 'permission is required' })
  @IsIn(ASSET_PERMISSIONS, { message: `permission must be one of ${ASSET_PERMISSIONS.join(', ')}` })
  permission: AssetPermission;
}

export class ReplaceAclDto {
  @IsDefined({ message: 'entries is required (an empty list removes every grant)' })
  @IsArray()
  @ArrayMaxSize(MAX_ACL_ENTRIES)
  @ValidateNested({ each: true })
  @Type(() => AclEntryDto)
  entries: AclEntryDto[];
}
