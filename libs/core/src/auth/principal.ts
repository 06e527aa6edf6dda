/** Who is calling, as read from a verified JWT. */
export interface Principal {
  /** Owner id: the JWT `sub`, a decimal integer kept as a string (it maps to a BIGINT column). */
  userId: string;
  groups: string[];
  roles: string[];
  isAdmin: boolean;
}

export const ADMIN_ROLE = 'admin';

/** ACL principal naming: `user:<id>`, `group:<id>` and `*` (anyone, including anonymous callers). */
export const ANYONE_PRINCIPAL = '*';
export const userPrincipal = (userId: string) => `user:${userId}`;
export const groupPrincipal = (groupId: string) => `group:${groupId}`;

/** Every ACL principal the caller speaks for: `*`, and when authenticated its user and each of its groups. */
export function principalKeys(p: Principal | null | undefined): string[] {
  if (!p) return [ANYONE_PRINCIPAL];
  return [ANYONE_PRINCIPAL, userPrincipal(p.userId), ...p.groups.map(groupPrincipal)];
}
