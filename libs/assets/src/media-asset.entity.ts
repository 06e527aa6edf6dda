import { Column, Entity, PrimaryColumn } from 'typeorm';

export enum AssetStatus {
  Pending = 'pending',
  Processing = 'processing',
  Ready = 'ready',
  Failed = 'failed',
  Quarantined = 'quarantined',
  Deleted = 'deleted',
}

/** A media_assets row: the asset's owner, storage location, declared and detected type, size, checksum and status (see the initial migration). */
@Entity({ name: 'media_assets' })
export class MediaAsset {
  @PrimaryColumn({ name: 'asset_id', type: 'uuid' })
  assetId: string;

  /** BIGINT, kept as a decimal string. */
  @Column({ name: 'owner_id', type: 'bigint' })
  ownerId: string;

  @Column({ type: 'varchar', length: 128 })
  bucket: string;

  @Column({ name: 'object_key', type: 'varchar', length: 1024 })
  objectKey: string;

  /** As declared by the uploader. */
  @Column({ name: 'mime_type', type: 'varchar', length: 128 })
  mimeType: string;

  @Column({ name: 'size_bytes', type: 'bigint' })
  sizeBytes: string;

  /** Verified by processing; null before. */
  @Column({ name: 'checksum_sha256', type: 'char', length: 64, nullable: true })
  checksumSha256: string | null;

  @Column({ type: 'enum', enum: AssetStatus, enumName: 'media_asset_status', default: AssetStatus.Pending })
  status: AssetStatus;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;

  @Column({ type: 'varchar', length: 255 })
  filename: string;

  @Column({ name: 'declared_checksum_sha256', type: 'char', length: 64, nullable: true })
  declaredChecksumSha256: string | null;

  @Column({ name: 'detected_mime_type', type: 'varchar', length: 128, nullable: true })
  detectedMimeType: string | null;

  @Column({ name: 'failure_reason', type: 'text', nullable: true })
  failureReason: string | null;

  @Column({ name: 'stored_object_sha256', type: 'char', length: 64, nullable: true })
  storedObjectSha256: string | null;

  @Column({ name: 'upload_expires_at', type: 'timestamptz' })
  uploadExpiresAt: Date;

  @Column({ name: 'processing_started_at', type: 'timestamptz', nullable: true })
  processingStartedAt: Date | null;

  @Column({ name: 'ready_at', type: 'timestamptz', nullable: true })
  readyAt: Date | null;

  @Column({ name: 'deleted_at', type: 'timestamptz', nullable: true })
  deletedAt: Date | null;

  /** The CDN URL recorded when the asset became ready (CDN registration); null without a CDN. */
  @Column({ name: 'cdn_url', type: 'text', nullable: true })
  cdnUrl: string | null;

  /**
   * Storage class of this asset's own object (`STANDARD`, then `STANDARD_IA`, `GLACIER_IR` by tiering, decided by
   * this asset's own age and reads — never by another asset sharing its bytes).
   */
  @Column({ name: 'storage_class', type: 'varchar', length: 32, default: 'STANDARD' })
  storageClass: string;

  /** Last download of this asset (tiering), written in batches by ObjectAccessTracker; null when never read. */
  @Column({ name: 'last_accessed_at', type: 'timestamptz', nullable: true })
  lastAccessedAt: Date | null;

  /** The user-facing bucket (a `buckets` row; shown as `bucket` in the API). Not `bucket`, which names the storage bucket. */
  @Column({ type: 'varchar', length: 63, default: 'default' })
  container: string;

  /** The asset's path inside `container` (NFC, unique among live assets; defaults to the asset id). */
  @Column({ type: 'varchar', length: 1024 })
  path: string;
}
