export * from './acl.module';
export { AclService } from './acl.service';
export { AclPolicy } from './acl.policy';
export type { InheritedGrantSource } from './acl.policy';
export { AclEntryDto, ReplaceAclDto } from './acl.dto';
export { checkAclList, checkAclEntry, MAX_ACL_ENTRIES } from './acl-rules';
export type { AclEntry } from './acl-rules';
export { AclViewDto } from './acl-view.dto';
