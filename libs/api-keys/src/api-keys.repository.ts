import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ApiKey } from './api-key.entity';

/** All SQL on api_keys. */
@Injectable()
export class ApiKeysRepository {
  constructor(@InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>) {}

  async insert(row: ApiKey): Promise<ApiKey> {
    await this.keys.insert(row);
    return row;
  }

  /** The key whose SHA-256 is `hash` (one probe of the unique index), revoked and expired ones included. */
  findByHash(hash: string): Promise<ApiKey | null> {
    return this.keys.findOneBy({ keyHash: hash });
  }

  /** A user's keys, oldest first. */
  listByCreator(creatorId: string): Promise<ApiKey[]> {
    return this.keys.find({ where: { creatorId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Marks the key revoked (keeping the first revocation time); null when `creatorId` has no key `id`. */
  async revoke(id: string, creatorId: string, at: Date): Promise<{ id: string } | null> {
    // An UPDATE … RETURNING answers [rows, affected count] through TypeORM's Postgres driver.
    const [rows] = await this.keys.query<[{ id: string }[], number]>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) WHERE key_id = $1 AND creator_id = $2 RETURNING key_id AS id`,
      [id, creatorId, at],
    );
    return rows[0] ?? null;
  }

  /** One UPDATE for every key used since the last call: each key's last_used_at moves forward only. */
  async recordLastUsed(used: ReadonlyMap<string, Date>): Promise<void> {
    if (!used.size) return;
    await this.keys.query(
      `UPDATE api_keys k SET last_used_at = u.at
         FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at)
        WHERE k.key_id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`,
      [[...used.keys()], [...used.values()]],
    );
  }
}
