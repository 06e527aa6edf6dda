import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One stored blob, shared by every asset with the same SHA-256 (ref_count of them). */
@Entity({ name: 'stored_objects' })
export class StoredObject {
  @PrimaryColumn({ name: 'checksum_sha256', type: 'char', length: 64 })
  checksumSha256: string;

  @Column({ type: 'varchar', length: 128 })
  bucket: string;

  @Column({ name: 'object_key', type: 'varchar', length: 1024 })
  objectKey: string;

  @Column({ name: 'size_bytes', type: 'bigint' })
  sizeBytes: string;

  @Column({ name: 'ref_count', type: 'int' })
  refCount: number;

  @Column({ name: 'storage_class', type: 'varchar', length: 32, default: 'STANDARD' })
  storageClass: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;

  @Column({ name: 'last_verified_at', type: 'timestamptz', nullable: true })
  lastVerifiedAt: Date | null;

  @Column({ name: 'last_accessed_at', type: 'timestamptz', nullable: true })
  lastAccessedAt: Date | null;

  /** `ok`, `missing` (no region holds it) or `corrupt` (bytes differ from the SHA-256); set by lifecycle jobs. */
  @Column({ type: 'varchar', length: 16, default: 'ok' })
  integrity: 'ok' | 'missing' | 'corrupt';

  @Column({ name: 'integrity_note', type: 'text', nullable: true })
  integrityNote: string | null;

  @Column({ name: 'integrity_changed_at', type: 'timestamptz', nullable: true })
  integrityChangedAt: Date | null;

  /** When a new upload of these bytes last restored this object after it was found missing (see DedupSettleHandler). */
  @Column({ name: 'healed_at', type: 'timestamptz', nullable: true })
  healedAt: Date | null;
}
