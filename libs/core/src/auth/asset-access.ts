import {
  applyDecorators,
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Inject,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, Errors } from '../errors/error-codes';
import { ApiParam } from '@nestjs/swagger';
import { ApiDefaultProblem } from '../openapi/api-problems';
import { AssetIdPipe } from '../http/asset-id.pipe';
import { Principal } from './principal';

/** What an ACL entry grants. The owner implicitly holds all three. */
export const ASSET_PERMISSIONS = ['read', 'write', 'delete'] as const;
export type AssetPermission = (typeof ASSET_PERMISSIONS)[number];

/** What a route needs: one permission, or to be the asset's owner (changing the ACL). */
export type AssetRequirement = AssetPermission | 'owner';

/** Evidence that the caller may act on one asset, produced by the access policy for the current request. */
export interface AssetAccess {
  readonly assetId: string;
  readonly ownerId: string;
  /** Null for an anonymous caller (allowed only through a `*` grant). */
  readonly principal: Principal | null;
  readonly isOwner: boolean;
  /** Everything the caller holds on this asset (the owner holds all). */
  readonly permissions: readonly AssetPermission[];
}

/**
 * The one access policy (implemented by the acl lib). `authorize` answers with the caller's access, or throws:
 * 404 AssetNotFound when the asset is missing/deleted or the caller may not read it (existence is not leaked),
 * 401 for an anonymous caller without access, 403 when the caller may read it but lacks `need`.
 */
export interface AssetAccessPolicy {
  authorize(assetId: string, principal: Principal | null, need: AssetRequirement): Promise<AssetAccess>;
}

export const ASSET_ACCESS_POLICY = Symbol('ASSET_ACCESS_POLICY');

const ASSET_REQUIREMENT = 'asset:requirement';

type RequestWithAccess = FastifyRequest & { principal?: Principal; assetAccess?: AssetAccess };

/**
 * Route guard for every `/media/:id...` route: runs after the global AuthGuard, validates `:id`, asks the
 * access policy and keeps the answer on the request for @CurrentAssetAccess().
 */
@Injectable()
export class AssetAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(ASSET_ACCESS_POLICY) private readonly policy: AssetAccessPolicy,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const need = this.reflector.getAllAndOverride<AssetRequirement | undefined>(ASSET_REQUIREMENT, [ctx.getHandler(), ctx.getClass()]);
    if (!need) throw new Error('AssetAccessGuard on a route without @RequireAssetAccess()');
    const req = ctx.switchToHttp().getRequest<RequestWithAccess>();
    const rawId = (req.params as Record<string, string> | undefined)?.id;
    const assetId: string = await AssetIdPipe.transform(rawId as string, { type: 'param', data: 'id' });
    req.assetAccess = await this.policy.authorize(assetId, req.principal ?? null, need);
    return true;
  }
}

/** The route acts on asset `:id` and needs `need` on it (enforced by the access policy through AssetAccessGuard). */
export const RequireAssetAccess = (need: AssetRequirement) =>
  applyDecorators(
    SetMetadata(ASSET_REQUIREMENT, need),
    UseGuards(AssetAccessGuard),
    ApiParam({ name: 'id', description: 'Asset id', schema: { type: 'string', format: 'uuid' } }),
    ApiDefaultProblem(404, 'No such asset, or the caller may not read it (existence is not revealed)', [ErrorCode.AssetNotFound]),
    ...(need === 'read'
      ? []
      : [
          ApiDefaultProblem(403, need === 'owner' ? 'Only the owner may do this' : `The caller may read the asset but lacks "${need}"`, [
            ErrorCode.Forbidden,
          ]),
        ]),
  );

/** The access the guard granted for this request (only on @RequireAssetAccess routes). */
export const CurrentAssetAccess = createParamDecorator((_: unknown, ctx: ExecutionContext): AssetAccess => {
  const access = ctx.switchToHttp().getRequest<RequestWithAccess>().assetAccess;
  if (!access) throw new Error('@CurrentAssetAccess() on a route without @RequireAssetAccess()');
  return access;
});

/** Defence in depth for services: refuses an access object that does not carry `need`. */
export function assertAssetAccess(access: AssetAccess, need: AssetRequirement): void {
  const ok = need === 'owner' ? access.isOwner : access.permissions.includes(need);
  if (!ok) throw Errors.forbidden(`You may not ${need === 'owner' ? 'administer' : need} asset ${access.assetId}`);
}
