/** Who is calling, as read from a verified JWT or API key (a key acts as the user who created it). */
export interface Principal {
  /** Owner id: the JWT `sub`, a decimal integer kept as a string (it maps to a BIGINT column). */
  userId: string;
  groups: string[];
  roles: string[];
  isAdmin: boolean;
  /** Set when the caller authenticated with an API key: its id (for rate limits and lastUsedAt) and scopes. */
  apiKey?: { id: string; scopes: readonly ApiKeyScope[] };
}

/**
 * What an API key may do: `read` (GET/HEAD routes), `write` (uploads, metadata, ACL, deletions and every other
 * change), `admin` (the admin routes; only a key created by an admin may hold it).
 */
export const API_KEY_SCOPES = ['read', 'write', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

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
