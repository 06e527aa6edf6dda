/** Who is calling, as read from a verified JWT. */
export interface Principal {
  /** Owner id: the JWT `sub`, a decimal integer kept as a string (it maps to a BIGINT column). */
  userId: string;
  groups: string[];
  roles: string[];
  isAdmin: boolean;
}

export const ADMIN_ROLE = 'admin';
