import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ADMIN_ROLE, Clock, Errors, Principal } from '@app/core';
import { ApiKey } from './api-key.entity';
import { ApiKeyLookup } from './api-key-lookup';
import { generateApiKey } from './api-key-secret';
import { ApiKeyListDto, ApiKeyView, CreateApiKeyDto, CreatedApiKeyView } from './api-keys.dto';
import { ApiKeysRepository } from './api-keys.repository';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function view(row: ApiKey): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: [...row.scopes],
    creatorId: row.creatorId,
    createdAt: row.createdAt.toISOString(),
    expiresAt: iso(row.expiresAt),
    lastUsedAt: iso(row.lastUsedAt),
    revokedAt: iso(row.revokedAt),
  };
}

/**
 * Creating, listing and revoking API keys. A key acts as the user who created it (with that user's groups and roles
 * as they were then), limited to its scopes. Rules:
 * - `admin` may be granted only by an admin (a JWT with the admin role, or a key holding the admin scope);
 * - a key may create or revoke keys only when it holds the `admin` scope (enforced by the route), and never grants
 *   a scope it does not hold itself;
 * - each user sees and revokes only their own keys.
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly repo: ApiKeysRepository,
    private readonly lookup: ApiKeyLookup,
    private readonly clock: Clock,
  ) {}

  async create(dto: CreateApiKeyDto, principal: Principal): Promise<CreatedApiKeyView> {
    const now = this.clock.now();
    const scopes = [...new Set(dto.scopes)];
    if (scopes.includes('admin') && !principal.isAdmin) {
      throw Errors.forbidden('Only an admin may create a key with the "admin" scope');
    }
    const beyond = principal.apiKey ? scopes.filter((s) => !principal.apiKey!.scopes.includes(s)) : [];
    if (beyond.length) throw Errors.insufficientScope(beyond[0]);
    const expiresAt = dto.expiresAt === undefined ? null : new Date(dto.expiresAt);
    if (expiresAt && (Number.isNaN(expiresAt.getTime()) || expiresAt <= now)) {
      throw Errors.validation('expiresAt must be a date-time in the future', { field: 'expiresAt' });
    }
    const secret = generateApiKey();
    const row = await this.repo.insert({
      id: randomUUID(),
      keyHash: secret.hash,
      prefix: secret.prefix,
      name: dto.name.trim(),
      scopes,
      creatorId: principal.userId,
      creatorGroups: [...principal.groups],
      // A key made by a key that lacks admin has no admin role to pass on (principalOfKey dropped it already).
      creatorRoles: principal.isAdmin ? [...principal.roles] : principal.roles.filter((r) => r !== ADMIN_ROLE),
      createdAt: now,
      expiresAt,
      lastUsedAt: null,
      revokedAt: null,
    });
    return { ...view(row), key: secret.key };
  }

  async list(principal: Principal): Promise<ApiKeyListDto> {
    return { items: (await this.repo.listByCreator(principal.userId)).map(view) };
  }

  /** Revokes one of the caller's keys; every replica refuses it from the moment this returns. Idempotent. */
  async revoke(id: string, principal: Principal): Promise<void> {
    const row = await this.repo.revoke(id, principal.userId, this.clock.now());
    if (!row) throw Errors.apiKeyNotFound(id);
    await this.lookup.announceRevoked(id);
  }
}
