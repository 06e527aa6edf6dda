import { token } from './app-process';

/**
 * fetch options of an admin caller: /health/ready and /health/regions give anonymous callers (the probes) the
 * status alone, and an admin every check and region in detail.
 */
export const asAdmin = (): RequestInit => ({ headers: { authorization: `Bearer ${token(1, { roles: ['admin'] })}` } });
