import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';

export const MAX_OBJECT_LIST_LIMIT = 1000;
export const DEFAULT_OBJECT_LIST_LIMIT = 100;

/** GET /buckets/{bucket}/objects query (ListObjectsV2-like). */
export class ListObjectsQueryDto {
  /** Only paths starting with this (e.g. `invoices/2026/`). */
  @IsOptional()
  @IsString()
  @MaxLength(1024)
  prefix?: string;

  /** `/`: paths with a `/` after the prefix are rolled up into `prefixes` (folders). Omitted: a flat listing. */
  @IsOptional()
  @IsIn(['/'], { message: 'delimiter must be "/" (or omitted for a flat listing)' })
  delimiter?: string;

  /** Items plus prefixes per page (default 100, at most 1000). */
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(MAX_OBJECT_LIST_LIMIT, { message: `limit must not be greater than ${MAX_OBJECT_LIST_LIMIT}` })
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_OBJECT_LIST_LIMIT, required: false, default: DEFAULT_OBJECT_LIST_LIMIT })
  limit?: number;

  /** nextCursor of the previous page (with the same prefix, delimiter and q). */
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  cursor?: string;

  /** Only assets whose filename or path contains this text (case- and accent-insensitive). */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  q?: string;
}

/** One asset in a bucket listing. */
export class ObjectItemDto {
  assetId: string;
  /** The full path in the bucket. */
  path: string;
  ownerId: string;
  filename: string;
  mimeType: string;
  sizeBytes: number;
  /** `pending`, `processing`, `ready`, `failed` or `quarantined`. */
  status: string;
  @ApiProperty({ type: String, nullable: true })
  checksumSha256: string | null;
  updatedAt: string;
}

/** A page of a bucket listing: assets, folders (common prefixes), both in path order. */
export class ObjectPageDto {
  bucket: string;
  prefix: string;
  @ApiProperty({ type: String, nullable: true })
  delimiter: string | null;
  items: ObjectItemDto[];
  /** Folders: each distinct `prefix + segment + delimiter` below the prefix (only with a delimiter). */
  prefixes: string[];
  /** Pass as `cursor` for the next page; null on the last page. */
  @ApiProperty({ type: String, nullable: true })
  nextCursor: string | null;
}
