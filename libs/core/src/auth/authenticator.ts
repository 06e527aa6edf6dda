import { Injectable } from '@nestjs/common';
import { Errors } from '../errors/error-codes';
import { JwtService } from './jwt.service';
import { ApiKeyScope, Principal } from './principal';

/** Every API key starts with this: a bearer value with it is a key, anything else a JWT (and secret scanners can spot one). */
export const API_KEY_PREFIX = 'msk_';
/** The header that carries an API key (the other way is `Authorization: Bearer <key>`). */
export const API_KEY_HEADER = 'x-api-key';

/**
 * Checks API keys; provided by the api-keys lib (core does not know its tables), registered with
 * Authenticator.useApiKeys at start-up.
 */
export interface ApiKeyVerifier {
  /** The principal the key acts as (with `apiKey` set), or a 401 AppError when it is wrong, revoked or expired. */
  verify(key: string): Promise<Principal>;
}

type HeaderBag = Record<string, string | string[] | undefined>;

const MISSING = 'Missing credentials; send "Authorization: Bearer <token or API key>" or "X-Api-Key: <API key>"';

/**
 * Who is calling, from the request headers: `Authorization: Bearer <jwt>`, `Authorization: Bearer msk_…` (an API
 * key) or `X-Api-Key: msk_…`. Used by the global AuthGuard and by the routes that are not Nest controllers (tus,
 * Bull Board, the body-size pre-check), so every entry point accepts the same credentials.
 */
@Injectable()
export class Authenticator {
  private apiKeys?: ApiKeyVerifier;

  constructor(private readonly jwt: JwtService) {}

  /** Turns API keys on (called once by the api-keys lib). */
  useApiKeys(verifier: ApiKeyVerifier): void {
    this.apiKeys = verifier;
  }

  /** The caller, or null when the request carries no credential at all; a bad credential is a 401 AppError. */
  async authenticate(headers: HeaderBag): Promise<Principal | null> {
    const { authorization } = headers;
    const keyHeader = headers[API_KEY_HEADER];
    if (authorization === undefined && keyHeader === undefined) return null;
    // The same credential in both (clients generated from the document send one value to each scheme it lists) is
    // one credential; two different ones are refused.
    const sameInBoth =
      typeof authorization === 'string' && typeof keyHeader === 'string' && authorization.trim() === `Bearer ${keyHeader.trim()}`;
    if (authorization !== undefined && keyHeader !== undefined && !sameInBoth) {
      throw Errors.unauthenticated('Send one credential: either an Authorization header or an X-Api-Key header, not both');
    }
    if (keyHeader !== undefined && !sameInBoth) {
      if (typeof keyHeader !== 'string' || !keyHeader.trim()) throw Errors.unauthenticated('X-Api-Key must carry one API key');
      return this.verifyKey(keyHeader.trim());
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(typeof authorization === 'string' ? authorization : '');
    if (!m) throw Errors.unauthenticated('Authorization header must be "Bearer <token or API key>"');
    return m[1].startsWith(API_KEY_PREFIX) ? this.verifyKey(m[1]) : this.jwt.verify(m[1]);
  }

  /** Like authenticate, but a request without credentials is a 401 too. */
  async require(headers: HeaderBag): Promise<Principal> {
    const principal = await this.authenticate(headers);
    if (!principal) throw Errors.unauthenticated(MISSING);
    return principal;
  }

  private verifyKey(key: string): Promise<Principal> {
    if (!key.startsWith(API_KEY_PREFIX)) throw Errors.unauthenticated(`Invalid API key: API keys start with "${API_KEY_PREFIX}"`);
    if (!this.apiKeys) throw Errors.unauthenticated('This service does not accept API keys');
    return this.apiKeys.verify(key);
  }
}

/** The scope a request needs when a key makes it: `read` for GET/HEAD (and OPTIONS), `write` for anything else. */
export function scopeForMethod(method: string): ApiKeyScope {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 'read' : 'write';
}

/** Refuses (403 InsufficientScope, naming it) an API key without `scope`; JWT callers are not limited by scopes. */
export function assertScope(principal: Principal, scope: ApiKeyScope): void {
  if (principal.apiKey && !principal.apiKey.scopes.includes(scope)) throw Errors.insufficientScope(scope);
}
