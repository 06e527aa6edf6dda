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

  /** The user-facing bucket (a `buckets` row; shown as `bucket` in the API). Not `bucket`, which names the storage bucket. */
  @Column({ type: 'varchar', length: 63, default: 'default' })
  container: string;

  /** The asset's path inside `container` (NFC, unique among live assets; defaults to the asset id). */
  @Column({ type: 'varchar', length: 1024 })
  path: string;

  /** Not a column: the storage class of the stored object (ready assets), loaded with the record for the API view. */
  storageClass?: string | null;
}
