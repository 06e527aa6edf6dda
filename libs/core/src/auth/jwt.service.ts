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

const CLOCK_TOLERANCE_S = 5;
/** Tokens remembered as verified (clients send the same token with every request until it expires). */
const VERIFIED_CACHE_SIZE = 10000;

interface VerifiedToken {
  principal: Principal;
  /** Seconds since the epoch; undefined when the claim is absent. */
  exp?: number;
  nbf?: number;
}

/** HS256 only: the algorithm is pinned so `none` and RS/HS confusion are refused. */
@Injectable()
export class JwtService {
  /** A KeyObject made once: given a string, jsonwebtoken tries to parse it as a public key on every call. */
  private readonly key: KeyObject;
  /**
   * Exact token text → what verifying it gave. The text includes the signature, so a hit is a token this process
   * verified before; only the time claims can change the answer, and they are checked again on every hit exactly
   * as jsonwebtoken checks them. Bounded: the oldest entry goes first.
   */
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(@Inject(SECURITY_CONFIG) security: Pick<SecurityConfig, 'jwtSecret'>) {
    this.key = createSecretKey(Buffer.from(security.jwtSecret, 'utf8'));
  }

  verify(token: string): Principal {
    const hit = this.verified.get(token);
    if (hit) {
      const now = Math.floor(Date.now() / 1000);
      if ((hit.exp === undefined || now < hit.exp + CLOCK_TOLERANCE_S) && (hit.nbf === undefined || hit.nbf <= now + CLOCK_TOLERANCE_S)) {
        const p = hit.principal;
        return { ...p, groups: [...p.groups], roles: [...p.roles] };
      }
      this.verified.delete(token); // expired (or not yet valid): verify properly for the right error
    }
    const principal = this.verifyFully(token);
    const payload = jwt.decode(token, { json: true });
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(token, {
      principal: { ...principal, groups: [...principal.groups], roles: [...principal.roles] },
      exp: typeof payload?.exp === 'number' ? payload.exp : undefined,
      nbf: typeof payload?.nbf === 'number' ? payload.nbf : undefined,
    });
    return principal;
  }

  private verifyFully(token: string): Principal {
    let payload: jwt.JwtPayload | string;
    try {
      payload = jwt.verify(token, this.key, { algorithms: ['HS256'], clockTolerance: CLOCK_TOLERANCE_S });
    } catch (e) {
      const reason = e instanceof jwt.TokenExpiredError ? 'token has expired' : e instanceof Error ? e.message : 'invalid token';
      throw Errors.unauthenticated(`Invalid bearer token: ${reason}`);
    }
    if (typeof payload === 'string') throw Errors.unauthenticated('Invalid bearer token: payload must be a JSON object');
    const sub = payload.sub === undefined ? undefined : String(payload.sub);
    if (!sub || !SUB_PATTERN.test(sub) || BigInt(sub) > MAX_ID) {
      throw Errors.unauthenticated('Invalid bearer token: claim "sub" must be a positive integer user id');
    }
    const roles = stringArray(payload.roles, 'roles');
    return { userId: sub, groups: stringArray(payload.groups, 'groups'), roles, isAdmin: roles.includes(ADMIN_ROLE) };
  }

  sign(claims: { sub: string | number; groups?: string[]; roles?: string[] }, expiresInSeconds = 3600): string {
    return jwt.sign({ ...claims, sub: String(claims.sub) }, this.key, { algorithm: 'HS256', expiresIn: expiresInSeconds });
  }
}
