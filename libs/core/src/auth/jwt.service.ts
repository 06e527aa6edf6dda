import { createSecretKey, KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { SECURITY_CONFIG, SecurityConfig } from '../config/config-sections';
import { Errors } from '../errors/error-codes';
import { ADMIN_ROLE, Principal } from './principal';

const SUB_PATTERN = /^[1-9]\d{0,18}$/;
const MAX_ID = 9223372036854775807n;

function stringArray(v: unknown, claim: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' && typeof x !== 'number')) {
    throw Errors.unauthenticated(`Token claim "${claim}" must be an array of strings`);
  }
  return v.map(String);
}

/** Allowed clock difference with the token issuer, for `exp`, `nbf` and `iat`. */
const CLOCK_TOLERANCE_S = 5;
/** Tokens remembered as verified (clients send the same token with every request until it expires). */
const VERIFIED_CACHE_SIZE = 10000;
const DEFAULT_MAX_LIFETIME_S = 24 * 3600;

interface VerifiedToken {
  principal: Principal;
  /** Seconds since the epoch (every accepted token has one). */
  exp: number;
  nbf?: number;
}

type JwtSettings = Pick<SecurityConfig, 'jwtSecret'> &
  Partial<Pick<SecurityConfig, 'JWT_MAX_LIFETIME_SECONDS' | 'JWT_ISSUER' | 'JWT_AUDIENCE'>>;

const refused = (reason: string) => Errors.unauthenticated(`Invalid bearer token: ${reason}`);

/**
 * HS256 only: the algorithm is pinned so `none` and RS/HS confusion are refused. Beyond the signature, a token must
 * carry `exp` (a lifetime of at most JWT_MAX_LIFETIME_SECONDS), must not be issued in the future, must name the
 * configured issuer and audience (JWT_ISSUER, JWT_AUDIENCE) and a `sub` that is a user id (string or integer).
 */
@Injectable()
export class JwtService {
  /** A KeyObject made once: given a string, jsonwebtoken tries to parse it as a public key on every call. */
  private readonly key: KeyObject;
  private readonly maxLifetimeS: number;
  private readonly issuer?: string;
  private readonly audience?: string;
  /**
   * Exact token text → what verifying it gave. The text includes the signature, so a hit is a token this process
   * verified before, under the same settings. Of the rules, only `exp` and `nbf` can turn an accepted token into a
   * refused one as time passes (a past `iat` stays past, and `exp` − now only shrinks), so a hit checks those again,
   * exactly as jsonwebtoken does. Bounded: the oldest entry goes first.
   */
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(@Inject(SECURITY_CONFIG) security: JwtSettings) {
    this.key = createSecretKey(Buffer.from(security.jwtSecret, 'utf8'));
    this.maxLifetimeS = security.JWT_MAX_LIFETIME_SECONDS ?? DEFAULT_MAX_LIFETIME_S;
    this.issuer = security.JWT_ISSUER;
    this.audience = security.JWT_AUDIENCE;
  }

  /** The longest lifetime a token may have (JWT_MAX_LIFETIME_SECONDS). */
  get maxLifetimeSeconds(): number {
    return this.maxLifetimeS;
  }

  verify(token: string): Principal {
    const hit = this.verified.get(token);
    if (hit) {
      const now = Math.floor(Date.now() / 1000);
      if (now < hit.exp + CLOCK_TOLERANCE_S && (hit.nbf === undefined || hit.nbf <= now + CLOCK_TOLERANCE_S)) {
        const p = hit.principal;
        return { ...p, groups: [...p.groups], roles: [...p.roles] };
      }
      this.verified.delete(token); // expired (or not yet valid): verify properly for the right error
    }
    const { principal, exp, nbf } = this.verifyFully(token);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(token, { principal: { ...principal, groups: [...principal.groups], roles: [...principal.roles] }, exp, nbf });
    return principal;
  }

  private verifyFully(token: string): VerifiedToken {
    let payload: jwt.JwtPayload | string;
    try {
      payload = jwt.verify(token, this.key, { algorithms: ['HS256'], clockTolerance: CLOCK_TOLERANCE_S });
    } catch (e) {
      throw refused(e instanceof jwt.TokenExpiredError ? 'token has expired' : e instanceof Error ? e.message : 'invalid token');
    }
    if (typeof payload === 'string') throw refused('payload must be a JSON object');
    const now = Math.floor(Date.now() / 1000);
    const { exp, iat } = payload;
    // jsonwebtoken has checked that exp and nbf are numbers when present, exp not past and nbf not future.
    if (typeof exp !== 'number') throw refused('claim "exp" is required (tokens must expire)');
    if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) throw refused('claim "iat" must be a number');
    if (iat !== undefined && iat > now + CLOCK_TOLERANCE_S) throw refused('claim "iat" is in the future');
    const lifetime = exp - (iat ?? now);
    if (lifetime > this.maxLifetimeS + (iat === undefined ? CLOCK_TOLERANCE_S : 0)) {
      throw refused(
        `claim "exp" is too far ahead: a lifetime of ${lifetime} s exceeds the ${this.maxLifetimeS} s allowed (JWT_MAX_LIFETIME_SECONDS)`,
      );
    }
    if (this.issuer !== undefined && payload.iss !== this.issuer) throw refused(`claim "iss" must be ${JSON.stringify(this.issuer)}`);
    if (this.audience !== undefined) {
      const aud = payload.aud;
      const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (!audiences.includes(this.audience)) throw refused(`claim "aud" must include ${JSON.stringify(this.audience)}`);
    }
    const sub = subjectOf(payload.sub);
    const roles = stringArray(payload.roles, 'roles');
    return {
      principal: { userId: sub, groups: stringArray(payload.groups, 'groups'), roles, isAdmin: roles.includes(ADMIN_ROLE) },
      exp,
      nbf: typeof payload.nbf === 'number' ? payload.nbf : undefined,
    };
  }

  /** A token this service accepts: `exp` after `expiresInSeconds` (at most JWT_MAX_LIFETIME_SECONDS), and the configured `iss`/`aud`. */
  sign(claims: { sub: string | number; groups?: string[]; roles?: string[] }, expiresInSeconds = 3600): string {
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > this.maxLifetimeS) {
      throw new RangeError(`token lifetime must be 1..${this.maxLifetimeS} s (JWT_MAX_LIFETIME_SECONDS), not ${expiresInSeconds}`);
    }
    return jwt.sign({ ...claims, sub: String(claims.sub) }, this.key, {
      algorithm: 'HS256',
      expiresIn: expiresInSeconds,
      ...(this.issuer !== undefined ? { issuer: this.issuer } : {}),
      ...(this.audience !== undefined ? { audience: this.audience } : {}),
    });
  }
}

/** `sub`: a positive integer user id within BIGINT, sent as a decimal string or a (safe) integer; anything else is refused. */
function subjectOf(v: unknown): string {
  const text = typeof v === 'string' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : undefined;
  if (text === undefined && v !== undefined) throw refused('claim "sub" must be a string or a number (a positive integer user id)');
  if (!text || !SUB_PATTERN.test(text) || BigInt(text) > MAX_ID) throw refused('claim "sub" must be a positive integer user id');
  return text;
}
