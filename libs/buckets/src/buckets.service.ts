import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import {
  ASSET_PERMISSIONS,
  AssetPermission,
  Errors,
  OutboxService,
  Principal,
  principalKeys,
  UPLOAD_CONFIG,
  UploadConfig,
  userPrincipal,
} from '@app/core';
import { AclEntry, AclPolicy, checkAclList } from '@app/acl';
import { AssetStateService, MediaAsset } from '@app/assets';
import { CdnService } from '@app/cdn';
import { EntityManager } from 'typeorm';
import { checkBucketName, checkPath, DEFAULT_BUCKET, mimeTypeAllowed } from './bucket-rules';
import { BucketAccessCache } from './bucket-access-cache';
import { BucketAccessFacts, BucketGrant, BucketRecord, BucketsRepository } from './buckets.repository';
import { BucketAclViewDto, BucketViewDto, CreateBucketDto, UpdateBucketDto } from './buckets.dto';

const FORCE_DELETE_CHUNK = 200;

/** The grants a bucket gives on every asset in it: its owner's (all three), its grants, and `*` read when public. */
export function inheritedGrants(facts: BucketAccessFacts): AclEntry[] {
  const out: AclEntry[] = facts.grants.map((g) => ({ principal: g.principal, permission: g.permission }));
  if (facts.ownerId) for (const p of ASSET_PERMISSIONS) out.push({ principal: userPrincipal(facts.ownerId), permission: p });
  if (facts.public) out.push({ principal: '*', permission: 'read' });
  return out;
}

/** What `principal` holds on the bucket as a whole (null: anonymous). */
export function bucketPermissions(facts: BucketAccessFacts, principal: Principal | null): AssetPermission[] {
  const mine = new Set(principalKeys(principal));
  const held = new Set(
    inheritedGrants(facts)
      .filter((g) => mine.has(g.principal))
      .map((g) => g.permission),
  );
  return ASSET_PERMISSIONS.filter((p) => held.has(p));
}

/**
 * User-facing buckets: lifecycle, settings, grants, and the rules an upload into one must pass. Bucket grants join
 * every access decision (see grantsFor) through BucketAccessCache: in process memory, dropped on every replica
 * when a change commits (Redis pub/sub), so a change applies to the next request.
 */
@Injectable()
export class BucketsService implements OnModuleInit {
  constructor(
    private readonly repo: BucketsRepository,
    private readonly cache: BucketAccessCache,
    private readonly policy: AclPolicy,
    private readonly state: AssetStateService,
    private readonly cdn: CdnService,
    private readonly outbox: OutboxService,
    @Inject(UPLOAD_CONFIG) private readonly upload: UploadConfig,
  ) {}

  onModuleInit(): void {
    this.policy.addInheritedGrants({ grantsFor: (record) => this.grantsFor(record) });
  }

  /** The bucket's grants that apply to this asset (none in the default bucket). */
  async grantsFor(record: MediaAsset): Promise<AclEntry[]> {
    if (!record.container || record.container === DEFAULT_BUCKET) return [];
    const facts = await this.cache.facts(record.container);
    return facts ? inheritedGrants(facts) : [];
  }

  async create(dto: CreateBucketDto, principal: Principal): Promise<BucketViewDto> {
    if (this.upload.BUCKET_CREATION === 'admin' && !principal.isAdmin) {
      throw Errors.forbidden('Only admins may create buckets here (BUCKET_CREATION=admin)');
    }
    const name = checkBucketName(dto.name, 'name');
    const row = await this.repo.insert({
      name,
      ownerId: principal.userId,
      public: dto.public ?? false,
      allowedMimeTypes: dto.allowedMimeTypes?.length ? dto.allowedMimeTypes : null,
      fileSizeLimit: dto.fileSizeLimit ?? null,
    });
    await this.cache.invalidate(name); // a process may remember that there was no such bucket
    return this.toView(row, [...ASSET_PERMISSIONS]);
  }

  async list(principal: Principal): Promise<BucketViewDto[]> {
    const rows = await this.repo.listVisible(principal.userId, principalKeys(principal), principal.isAdmin);
    const out: BucketViewDto[] = [];
    for (const row of rows) {
      const facts = await this.cache.facts(row.name);
      if (facts) out.push(this.toView(row, bucketPermissions(facts, principal)));
    }
    return out;
  }

  /**
   * The bucket and what the caller holds on it. 404 BucketNotFound when there is none or the caller holds nothing
   * on it (existence is not revealed); admins see every bucket.
   */
  async access(name: string, principal: Principal | null): Promise<{ bucket: BucketRecord; permissions: AssetPermission[] }> {
    checkBucketName(name, 'bucket');
    const [bucket, facts] = await Promise.all([this.repo.find(name), this.cache.facts(name)]);
    if (!bucket || !facts) throw Errors.bucketNotFound(name);
    const permissions = name === DEFAULT_BUCKET ? (principal ? [...ASSET_PERMISSIONS] : []) : bucketPermissions(facts, principal);
    if (!permissions.length && !principal?.isAdmin) throw Errors.bucketNotFound(name);
    return { bucket, permissions };
  }

  async get(name: string, principal: Principal): Promise<BucketViewDto> {
    const { bucket, permissions } = await this.access(name, principal);
    return this.toView(bucket, permissions);
  }

  /** The bucket when the caller owns it (or is an admin); 403 for others who can see it; the default bucket is fixed. */
  private async owned(name: string, principal: Principal): Promise<BucketRecord> {
    const { bucket } = await this.access(name, principal);
    if (name === DEFAULT_BUCKET) throw Errors.forbidden('The default bucket cannot be changed or deleted');
    if (bucket.ownerId !== principal.userId && !principal.isAdmin) {
      throw Errors.forbidden(`Only the owner of bucket "${name}" may change its settings, grants or delete it`);
    }
    return bucket;
  }

  async update(name: string, dto: UpdateBucketDto, principal: Principal): Promise<BucketViewDto> {
    await this.owned(name, principal);
    const row = await this.repo.transaction(async (m) => {
      const before = await this.repo.find(name, m, 'update');
      if (!before) throw Errors.bucketNotFound(name);
      const after = await this.repo.update(m, name, {
        public: dto.public,
        allowedMimeTypes: dto.allowedMimeTypes === undefined ? undefined : dto.allowedMimeTypes?.length ? dto.allowedMimeTypes : null,
        fileSizeLimit: dto.fileSizeLimit,
      });
      if (before.public && !after.public) await this.invalidateCdn(m, name);
      await this.cache.recordChange(m, name);
      return after;
    });
    await this.cache.invalidate(name);
    this.outbox.kick();
    const { permissions } = await this.access(name, principal);
    return this.toView(row, permissions);
  }

  /**
   * Deletes an empty bucket; 409 BucketNotEmpty unless `force`, which first deletes every asset in it through the
   * normal delete path (quota freed, stored objects released, events sent), in chunks.
   */
  async delete(name: string, force: boolean, principal: Principal): Promise<void> {
    await this.owned(name, principal);
    for (;;) {
      if (force) await this.deleteAssets(name);
      const done = await this.repo.transaction(async (m) => {
        if (!(await this.repo.find(name, m, 'update'))) throw Errors.bucketNotFound(name);
        const live = await this.repo.countLive(m, name, 1000);
        if (live > 0) {
          if (force) return false; // an upload landed meanwhile: delete it too
          throw Errors.bucketNotEmpty(name, live);
        }
        await this.repo.delete(m, name);
        await this.cache.recordChange(m, name);
        return true;
      });
      if (done) return this.cache.invalidate(name);
    }
  }

  private async deleteAssets(name: string): Promise<void> {
    for (;;) {
      const chunk = await this.repo.liveIds(name, FORCE_DELETE_CHUNK);
      if (!chunk.length) return;
      for (const a of chunk) {
        try {
          await this.state.delete({ assetId: a.assetId, ownerId: a.ownerId, principal: null, isOwner: false, permissions: ['delete'] });
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode !== 404) throw e; // deleted concurrently: fine
        }
      }
    }
  }

  async getAcl(name: string, principal: Principal): Promise<BucketAclViewDto> {
    await this.owned(name, principal);
    return { bucket: name, entries: await this.repo.grants(name) };
  }

  /** Replaces every bucket grant; withdrawing `*` read queues a CDN invalidation of the bucket's objects. */
  async replaceAcl(name: string, input: { principal?: unknown; permission?: unknown }[], principal: Principal): Promise<BucketAclViewDto> {
    await this.owned(name, principal);
    const entries = checkAclList(input, 'entries') as BucketGrant[];
    await this.repo.transaction(async (m) => {
      if (!(await this.repo.find(name, m, 'update'))) throw Errors.bucketNotFound(name);
      const before = await this.repo.grants(name, m);
      await this.repo.replaceGrants(m, name, entries);
      const publicRead = (l: BucketGrant[]) => l.some((e) => e.principal === '*' && e.permission === 'read');
      if (publicRead(before) && !publicRead(entries)) await this.invalidateCdn(m, name);
      await this.cache.recordChange(m, name);
    });
    await this.cache.invalidate(name);
    this.outbox.kick();
    return this.getAcl(name, principal);
  }

  private async invalidateCdn(m: EntityManager, name: string): Promise<void> {
    const keys = (await this.repo.readyObjectKeys(m, name)).map((r) => r.object_key);
    for (let i = 0; i < keys.length; i += 1000) await this.cdn.requestInvalidation(m, keys.slice(i, i + 1000));
  }

  /**
   * The address an upload asks for, checked against the bucket: 404 when the caller cannot see the bucket, 403
   * without `write` on it, 400 MimeTypeNotAllowed naming the type, 413 naming the bucket's size limit, 400 for a bad
   * path. Null: no address asked (the default bucket, under the asset's id).
   */
  async checkUpload(
    principal: Principal,
    req: { bucket?: string; path?: string; mimeType: string; sizeBytes: number },
  ): Promise<{ container: string; path: string | null } | null> {
    if (req.bucket === undefined && req.path === undefined) return null;
    const path = req.path === undefined ? null : checkPath(req.path, 'path');
    const name = req.bucket ?? DEFAULT_BUCKET;
    // The default bucket is shared by everyone: a chosen path there could reveal (409) that another user has it.
    if (name === DEFAULT_BUCKET && path !== null) {
      throw Errors.validation('A path needs a bucket of your own (POST /buckets); in the default bucket an asset is known by its id', {
        field: 'path',
      });
    }
    const { bucket } = await this.checkWritable(name, principal);
    if (!mimeTypeAllowed(bucket.allowedMimeTypes, req.mimeType)) {
      throw Errors.mimeTypeNotAllowed(name, req.mimeType, bucket.allowedMimeTypes ?? []);
    }
    if (bucket.fileSizeLimit !== null && req.sizeBytes > bucket.fileSizeLimit) {
      throw Errors.payloadTooLarge(
        `sizeBytes ${req.sizeBytes} exceeds the file size limit of bucket "${name}" (${bucket.fileSizeLimit} bytes)`,
        {
          field: 'sizeBytes',
          bucket: name,
          limit: bucket.fileSizeLimit,
        },
      );
    }
    return { container: name, path };
  }

  /** The bucket when the caller may write into it: 404 when it cannot see it, 403 when it may only read. */
  async checkWritable(name: string, principal: Principal): Promise<{ bucket: BucketRecord }> {
    const { bucket, permissions } = await this.access(name, principal);
    if (!permissions.includes('write') && !principal.isAdmin) {
      throw Errors.forbidden(`You may read bucket "${name}" but not write into it (that needs "write" on the bucket)`);
    }
    return { bucket };
  }

  /** Whether the bucket exists, share-locking it for the caller's transaction (a concurrent delete waits). */
  async bucketExistsLocked(m: EntityManager, name: string): Promise<boolean> {
    return !!(await this.repo.find(name, m, 'share'));
  }

  /** Gives a pending or existing asset its address, in the caller's transaction (409 PathTaken). */
  assignAddress(m: EntityManager, assetId: string, address: { container: string; path: string | null }): Promise<void> {
    return this.repo.assignAddress(m, assetId, address.container, address.path);
  }

  toView(b: BucketRecord, permissions: readonly string[]): BucketViewDto {
    return {
      name: b.name,
      ownerId: b.ownerId,
      public: b.public,
      allowedMimeTypes: b.allowedMimeTypes,
      fileSizeLimit: b.fileSizeLimit,
      permissions: [...permissions],
      createdAt: new Date(b.createdAt).toISOString(),
      updatedAt: new Date(b.updatedAt).toISOString(),
    };
  }
}
