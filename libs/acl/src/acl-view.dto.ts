import { AclEntryDto } from './acl.dto';
import type { AclView } from './acl.service';

/** An asset's sharing list. */
export class AclViewDto implements AclView {
  assetId: string;
  ownerId: string;
  /** Explicit grants; the owner holds every permission without one. */
  entries: AclEntryDto[];
}
