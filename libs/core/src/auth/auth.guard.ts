import { applyDecorators, CanActivate, createParamDecorator, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, Errors } from '../errors/error-codes';
import { ApiDefaultProblem, ApiNoAuth, ApiOptionalAuth } from '../openapi/api-problems';
import { assertScope, Authenticator, scopeForMethod } from './authenticator';
import { JwtService } from './jwt.service';
import { ApiKeyScope, Principal } from './principal';

const PUBLIC_ROUTE = 'auth:public';
const ADMIN_ROUTE = 'auth:admin';
const OPTIONAL_AUTH_ROUTE = 'auth:optional';
const SCOPE_ROUTE = 'auth:scope';

/** The route needs no token (signed storage URLs, health probes). */
export const Public = () => applyDecorators(SetMetadata(PUBLIC_ROUTE, true), ApiNoAuth());
/** The route needs a token with the `admin` role (and an API key the `admin` scope). */
export const AdminOnly = () =>
  applyDecorators(
    SetMetadata(ADMIN_ROUTE, true),
    ApiDefaultProblem(403, 'The token lacks the "admin" role, or the API key the "admin" scope', [
      ErrorCode.Forbidden,
      ErrorCode.InsufficientScope,
    ]),
  );
/**
 * The scope an API key needs for this route, when not the one its method implies (`read` for GET/HEAD, `write` for
 * the rest; `admin` on @AdminOnly() routes). JWT callers are not limited by scopes.
 */
export const RequireScope = (scope: ApiKeyScope) => SetMetadata(SCOPE_ROUTE, scope);
/**
 * The route also serves anonymous callers (no Authorization header at all; the principal is then absent).
 * A header that is present but bad is still a 401. Used where an ACL may grant `*` (anyone), and on a route of a
 * @Public() controller that tells an authenticated caller more (it overrides @Public() for that route).
 */
export const OptionalAuth = () =>
  applyDecorators(SetMetadata(PUBLIC_ROUTE, false), SetMetadata(OPTIONAL_AUTH_ROUTE, true), ApiOptionalAuth());

/**
 * The principal of an `Authorization: Bearer <jwt>` header (401 AppError when missing or bad), for callers that can
 * only take a JWT. Requests go through Authenticator, which takes API keys too.
 */
export function authenticateBearer(jwt: JwtService, header: string | undefined): Principal {
  if (!header) throw Errors.unauthenticated('Missing Authorization header; send "Authorization: Bearer <token>"');
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw Errors.unauthenticated('Authorization header must be "Bearer <token>"');
  return jwt.verify(m[1]);
}

type RequestWithPrincipal = FastifyRequest & { principal?: Principal };

/**
 * Global guard: every route requires a valid bearer JWT or API key unless marked @Public() (or @OptionalAuth() and
 * sent without credentials). An API key must also hold the route's scope (403 InsufficientScope naming it).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: Authenticator,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const req = ctx.switchToHttp().getRequest<RequestWithPrincipal>();
    const principal = await this.auth.authenticate(req.headers);
    if (!principal) {
      if (this.reflector.getAllAndOverride<boolean>(OPTIONAL_AUTH_ROUTE, targets)) return true;
      throw Errors.unauthenticated('Missing credentials; send "Authorization: Bearer <token or API key>" or "X-Api-Key: <API key>"');
    }
    req.principal = principal;
    const admin = this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, targets);
    const scope = this.reflector.getAllAndOverride<ApiKeyScope | undefined>(SCOPE_ROUTE, targets);
    assertScope(principal, scope ?? (admin ? 'admin' : scopeForMethod(req.method)));
    if (admin && !principal.isAdmin) throw Errors.forbidden('This route needs the "admin" role');
    return true;
  }

  /** Whether a route lets a request without any credential in (@Public() or @OptionalAuth()). */
  admitsAnonymous(handler: () => unknown, controller: object): boolean {
    const targets = [handler, controller as () => unknown];
    return (
      !!this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) ||
      !!this.reflector.getAllAndOverride<boolean>(OPTIONAL_AUTH_ROUTE, targets)
    );
  }
}

/** The verified caller. Only on routes that are not @Public() or @OptionalAuth() (it is a 401 when absent). */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<RequestWithPrincipal>().principal;
  if (!p) throw Errors.unauthenticated();
  return p;
});

/** The verified caller, or null for an anonymous request on an @OptionalAuth() route. */
export const OptionalPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal | null => ctx.switchToHttp().getRequest<RequestWithPrincipal>().principal ?? null,
);
