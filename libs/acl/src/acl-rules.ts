import {
  ANYONE_PRINCIPAL,
  ASSET_PERMISSIONS,
  AssetAccess,
  AssetPermission,
  AssetRequirement,
  Errors,
  Principal,
  principalKeys,
} from '@app/core';

/** One grant. */
export interface AclEntry {
  principal: string;
  permission: AssetPermission;
}

export const MAX_ACL_ENTRIES = 100;

const USER = /^user:([1-9]\d{0,18})$/;
const GROUP = /^group:[A-Za-z0-9_.@:-]{1,200}$/;
const MAX_ID = 9223372036854775807n;

/** A grant as given by a client: 400 naming the field when the principal or permission is not one we know. */
export function checkAclEntry(input: { principal?: unknown; permission?: unknown }, field = 'acl'): AclEntry {
  const { principal, permission } = input;
  if (typeof principal !== 'string' || !isValidPrincipal(principal)) {
    throw Errors.validation(
      `${field}.principal ${JSON.stringify(principal)} is not a principal: use "user:<id>", "group:<id>" (letters, digits and _.@:-) or "*" (anyone)`,
      { field: `${field}.principal` },
    );
  }
  if (typeof permission !== 'string' || !(ASSET_PERMISSIONS as readonly string[]).includes(permission)) {
    throw Errors.validation(`${field}.permission ${JSON.stringify(permission)} must be one of ${ASSET_PERMISSIONS.join(', ')}`, {
      field: `${field}.permission`,
    });
  }
  if (principal === ANYONE_PRINCIPAL && permission !== 'read') {
    throw Errors.validation(`"*" (anyone, including anonymous callers) can only be granted read, not ${permission}`, {
      field: `${field}.permission`,
    });
  }
  return { principal, permission: permission as AssetPermission };
}

/** Validated, de-duplicated and sorted; at most MAX_ACL_ENTRIES. */
export function checkAclList(input: { principal?: unknown; permission?: unknown }[] | undefined, field = 'acl'): AclEntry[] {
  const entries = (input ?? []).map((e, i) => checkAclEntry(e, `${field}[${i}]`));
  const unique = sortEntries([...new Map(entries.map((e) => [`${e.principal}\u0000${e.permission}`, e])).values()]);
  if (unique.length > MAX_ACL_ENTRIES) {
    throw Errors.validation(`${field} has ${unique.length} entries; an asset may have at most ${MAX_ACL_ENTRIES}`, {
      field,
      limit: MAX_ACL_ENTRIES,
    });
  }
  return unique;
}

export function isValidPrincipal(p: string): boolean {
  if (p === ANYONE_PRINCIPAL || GROUP.test(p)) return true;
  const m = USER.exec(p);
  return !!m && BigInt(m[1]) <= MAX_ID;
}

export function sortEntries(entries: AclEntry[]): AclEntry[] {
  const order = (p: AssetPermission) => ASSET_PERMISSIONS.indexOf(p);
  return [...entries].sort((a, b) =>
    a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : order(a.permission) - order(b.permission),
  );
}

/** What `principal` (null = anonymous) holds on an asset owned by `ownerId` with these grants. */
export function effectivePermissions(
  ownerId: string,
  entries: AclEntry[],
  principal: Principal | null,
): { isOwner: boolean; permissions: AssetPermission[] } {
  const isOwner = !!principal && principal.userId === ownerId;
  if (isOwner) return { isOwner, permissions: [...ASSET_PERMISSIONS] };
  const mine = new Set(principalKeys(principal));
  const held = new Set(entries.filter((e) => mine.has(e.principal)).map((e) => e.permission));
  return { isOwner, permissions: ASSET_PERMISSIONS.filter((p) => held.has(p)) };
}

const VERB: Record<Exclude<AssetRequirement, 'read'>, string> = {
  write: 'change it (that needs the "write" permission)',
  delete: 'delete it (that needs the "delete" permission)',
  owner: 'view or change its access list (only its owner may)',
};

/**
 * The access policy. The asset is null when it does not exist. Throws:
 * - 401 for an anonymous caller who cannot read the asset (same answer whether it exists or not);
 * - 404 AssetNotFound when it does not exist, is deleted, or the caller cannot read it;
 * - 403 when the caller can read it but lacks `need`.
 */
export function decideAccess(
  asset: { assetId: string; ownerId: string; deleted: boolean } | null,
  entries: AclEntry[],
  principal: Principal | null,
  need: AssetRequirement,
  assetId: string,
): AssetAccess {
  const granted = asset && !asset.deleted ? effectivePermissions(asset.ownerId, entries, principal) : { isOwner: false, permissions: [] };
  if (!granted.permissions.includes('read')) {
    if (!principal) throw Errors.unauthenticated('Missing Authorization header; send "Authorization: Bearer <token>"');
    throw Errors.assetNotFound(assetId);
  }
  const ok = need === 'owner' ? granted.isOwner : granted.permissions.includes(need);
  if (!ok) throw Errors.forbidden(`You may read asset ${assetId} but not ${VERB[need as Exclude<AssetRequirement, 'read'>]}`);
  return { assetId, ownerId: asset!.ownerId, principal, isOwner: granted.isOwner, permissions: granted.permissions };
}
