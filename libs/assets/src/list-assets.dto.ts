import { Transform } from 'class-transformer';
import { FitsBigint, MAX_BIGINT } from '@app/core';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { LISTABLE_STATUSES, MAX_LIST_LIMIT, MAX_TAG_FILTERS } from './asset-list.query';

/** A query parameter given once, repeated, or comma-separated, as a list. */
const toList =
  (split: boolean) =>
  ({ value }: { value: unknown }) => {
    if (value === undefined) return undefined;
    const arr: unknown[] = Array.isArray(value) ? value : [value];
    return split
      ? arr
          .flatMap((v) => String(v).split(','))
          .map((s) => s.trim())
          .filter(Boolean)
      : arr;
  };

/** GET /media query. */
export class ListAssetsQueryDto {
  /** Only assets of this owner (user id). */
  @IsOptional()
  @Matches(/^[1-9]\d{0,18}$/, { message: 'owner must be a user id (a positive integer)' })
  @FitsBigint({ message: `owner must be a user id of at most ${MAX_BIGINT}` })
  owner?: string;

  /** One or more statuses (repeat the parameter or separate with commas). Deleted assets are never listed. */
  @IsOptional()
  @Transform(toList(true))
  @IsArray()
  @IsIn(LISTABLE_STATUSES, { each: true, message: `status must be one of ${LISTABLE_STATUSES.join(', ')}` })
  status?: string[];

  /** Prefix of the declared media type: "image/" or "image/png". */
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @Matches(/^[a-z0-9][a-z0-9!#$&^_.+/-]{0,127}$/, { message: 'mimeType must be a media type or a prefix of one, like "image/"' })
  mimeType?: string;

  /** key:value, repeatable; every tag must match (AND). */
  @IsOptional()
  @Transform(toList(false))
  @IsArray()
  @ArrayMaxSize(MAX_TAG_FILTERS, { message: `at most ${MAX_TAG_FILTERS} tag filters` })
  @IsString({ each: true, message: 'tag must be key:value' })
  tag?: string[];

  /** Created at or after this instant (ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'createdFrom must be an ISO 8601 date-time, like 2026-01-31T00:00:00Z' })
  createdFrom?: string;

  /** Created before this instant (ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'createdTo must be an ISO 8601 date-time, like 2026-02-01T00:00:00Z' })
  createdTo?: string;

  /** Only assets whose filename or path contains this text (case- and accent-insensitive), most similar first. */
  @IsOptional()
  @IsString()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @MinLength(1, { message: 'q must not be empty' })
  @MaxLength(200)
  q?: string;

  /** nextCursor of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;

  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
  @IsInt({ message: 'limit must be an integer' })
  @Min(1)
  @Max(MAX_LIST_LIMIT, { message: `limit must not be greater than ${MAX_LIST_LIMIT}` })
  limit?: number;
}
