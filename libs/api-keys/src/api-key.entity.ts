import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ApiKeyScope } from '@app/core';

/** An api_keys row (see migration 1764000009100): never the key itself, only its SHA-256. */
@Entity({ name: 'api_keys' })
export class ApiKey {
  @PrimaryColumn({ name: 'key_id', type: 'uuid' })
  id: string;

  /** SHA-256 (hex) of the whole key: what a presented key is looked up by. */
  @Column({ name: 'key_hash', type: 'char', length: 64 })
  keyHash: string;

  /** The first characters of the key (`msk_` and a few more), to tell keys apart in lists; not enough to use it. */
  @Column({ type: 'varchar', length: 16 })
  prefix: string;

  @Column({ type: 'varchar', length: 100 })
  name: string;

  @Column({ type: 'varchar', length: 16, array: true })
  scopes: ApiKeyScope[];

  /** The user the key acts as (BIGINT, kept as a decimal string). */
  @Column({ name: 'creator_id', type: 'bigint' })
  creatorId: string;

  /** The creator's groups and roles when the key was made: the key acts with these. */
  @Column({ name: 'creator_groups', type: 'varchar', length: 255, array: true })
  creatorGroups: string[];

  @Column({ name: 'creator_roles', type: 'varchar', length: 255, array: true })
  creatorRoles: string[];

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
