import { AclEntryDto } from './acl.dto';

/** An asset's sharing list. */
export class AclViewDto {
  assetId: string;
  ownerId: string;
  /** Explicit grants; the owner holds every permission without one. */
  entries: AclEntryDto[];
}
