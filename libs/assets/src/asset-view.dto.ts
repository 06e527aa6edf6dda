import { ApiProperty } from '@nestjs/swagger';
import { AssetStatus } from './media-asset.entity';

export const UPLOAD_ASSEMBLY_STATES = ['receiving', 'assembling', 'assembled', 'failed', 'aborted'] as const;
export type UploadAssemblyState = (typeof UPLOAD_ASSEMBLY_STATES)[number];

/**
 * Where a multipart upload stands (POST /media/{id}/complete answers 202 and assembles the object in the background).
 * `receiving`: parts may be PUT (complete not called yet, or callable again after a failure); `assembling`: complete
 * was accepted and the object is being assembled (retried on store errors); `assembled`: processing took over (the
 * asset leaves `pending`); `failed`: the part list did not match storage (a part missing, an ETag or size wrong) or
 * assembly kept failing — `error` says why, the asset stays `pending` and complete may be called again with a
 * corrected list (or after re-uploading the part); `aborted`: the upload was abandoned.
 */
export class UploadAssemblyDto {
  @ApiProperty({ enum: UPLOAD_ASSEMBLY_STATES, enumName: 'UploadAssemblyState' })
  state: UploadAssemblyState;
  /** Assembly attempts of the current complete that failed (store errors; retried with backoff while `assembling`). */
  attempts: number;
  /** Why the last attempt failed (while `assembling`: it is being retried; `failed`: final, complete again). */
  error: string | null;
}

/** An asset as clients see it (GET /media/{id}, list items). */
export class AssetViewDto {
  /** Asset id (UUID). */
  assetId: string;
  /** The owner's user id (decimal string). */
  ownerId: string;
  /** The user-facing bucket the asset lives in (`default` when uploaded without one). */
  bucket: string;
  /** The asset's path in its bucket (its id when uploaded without one). */
  path: string;
  /** The file name given at upload (Content-Disposition on download). */
  filename: string;
  /** `pending` → `processing` → `ready`, or `failed`, `quarantined`. */
  @ApiProperty({ enum: AssetStatus, enumName: 'AssetStatus' })
  status: AssetStatus;
  /** The declared media type. */
  mimeType: string;
  /** The type sniffed from the bytes by processing; null until processed. */
  detectedMimeType: string | null;
  sizeBytes: number;
  /** Lower-case hex SHA-256, verified by processing; null until ready. */
  checksumSha256: string | null;
  /** Why processing failed or quarantined the asset. */
  failureReason: string | null;
  /** User tags and extracted facts (`exif:`, `media:`, `scan:`). */
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  readyAt: string | null;
  /** While pending: when the upload URL expires. */
  uploadExpiresAt: string | null;
  /**
   * Storage class of this asset's own object once ready (`STANDARD`, then `STANDARD_IA`, `GLACIER_IR` by tiering of
   * this asset, by its own age and downloads — never another asset's with the same bytes); null before.
   */
  storageClass: string | null;
  /**
   * GET /media/{id} of a `pending` multipart upload: where its assembly stands (see UploadAssemblyDto). Absent for
   * other assets and in lists.
   */
  upload?: UploadAssemblyDto;
}

export class AssetPageDto {
  items: AssetViewDto[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** A short-lived signed URL (the body of `?redirect=false`, and where the 302 points). */
export class DownloadLinkDto {
  url: string;
  /** When the URL stops working; null for a public CDN URL that does not expire. */
  expiresAt: string | null;
}

export class StoredObjectRegionDto {
  bucket: string;
  objectKey: string;
}

/** A stored object (operators). */
export class StoredObjectViewDto {
  sha256: string;
  sizeBytes: number;
  refCount: number;
  storageClass: string;
  regions: StoredObjectRegionDto[];
  createdAt: string;
  updatedAt: string;
  lastVerifiedAt: string | null;
  lastAccessedAt: string | null;
  /** `ok`, `missing` (reconcile found no region holding it) or `corrupt` (integrity scan). */
  integrity: string;
  /** Why the integrity changed (what the scan found, or where the object was restored from). */
  integrityNote: string | null;
  integrityChangedAt: string | null;
}
