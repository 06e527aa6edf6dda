import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';
import { AclEntryDto, MAX_ACL_ENTRIES } from '@app/acl';
import { ASSET_PERMISSIONS, MAX_EXACT_INTEGER } from '@app/core';
import { MAX_ALLOWED_MIME_TYPES } from './bucket-rules';

/** An allowed type: exact (`image/png`) or a whole major type (`image/*`). */
const ALLOWED_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/([a-z0-9][a-z0-9!#$&^_.+-]{0,126}|\*)$/;
const lower = ({ value }: { value: unknown }): unknown =>
  Array.isArray(value) ? value.map((v: unknown) => (typeof v === 'string' ? v.trim().toLowerCase() : v)) : value;

/** Settings shared by create and update. */
export class BucketSettingsDto {
  /** `true`: anyone (also anonymous callers) may read every asset in the bucket. */
  @IsOptional()
  @IsBoolean({ message: 'public must be true or false' })
  public?: boolean;

  /** Types an upload may declare (`image/png`, or `image/*` for a major type); null or empty: any. */
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @Transform(lower)
  @IsArray({ message: 'allowedMimeTypes must be a list of media types like "image/png" or "image/*"' })
  @ArrayMaxSize(MAX_ALLOWED_MIME_TYPES)
  @IsString({ each: true })
  @Matches(ALLOWED_TYPE, { each: true, message: 'allowedMimeTypes must hold media types like "image/png" or "image/*"' })
  @ApiProperty({ type: [String], nullable: true, required: false, example: ['image/*', 'application/pdf'] })
  allowedMimeTypes?: string[] | null;

  /** Largest upload accepted into the bucket, in bytes; null: only the service-wide limit. */
  @IsOptional()
  @ValidateIf((_, v) => v !== null)
  @IsInt({ message: 'fileSizeLimit must be an integer number of bytes' })
  @Min(1)
  @Max(MAX_EXACT_INTEGER)
  @ApiProperty({ type: 'integer', nullable: true, required: false, minimum: 1 })
  fileSizeLimit?: number | null;
}

/** POST /buckets body. */
export class CreateBucketDto extends BucketSettingsDto {
  /** 3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit; unique. */
  @IsDefined({ message: 'name is required' })
  @IsString({ message: 'name must be a string' })
  @ApiProperty({ pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', minLength: 3, maxLength: 63, example: 'avatars' })
  name: string;
}

/** PATCH /buckets/{name} body: only the settings given change. */
export class UpdateBucketDto extends BucketSettingsDto {}

/** A bucket as clients see it. */
export class BucketViewDto {
  name: string;
  /** The owner's user id; null for the system bucket `default`. */
  @ApiProperty({ type: String, nullable: true })
  ownerId: string | null;
  public: boolean;
  @ApiProperty({ type: [String], nullable: true })
  allowedMimeTypes: string[] | null;
  @ApiProperty({ type: 'integer', nullable: true })
  fileSizeLimit: number | null;
  /** What the caller holds on every asset in the bucket (from ownership, bucket grants and `public`). */
  @ApiProperty({ enum: ASSET_PERMISSIONS, isArray: true })
  permissions: string[];
  createdAt: string;
  updatedAt: string;
}

export class BucketListDto {
  items: BucketViewDto[];
}

/** PUT /buckets/{name}/acl body: replaces every bucket grant. */
export class ReplaceBucketAclDto {
  @IsDefined({ message: 'entries is required (an empty list removes every grant)' })
  @IsArray()
  @ArrayMaxSize(MAX_ACL_ENTRIES)
  @ValidateNested({ each: true })
  @Type(() => AclEntryDto)
  entries: AclEntryDto[];
}

/** A bucket's grants; each applies to every asset in the bucket, on top of the asset's own ACL. */
export class BucketAclViewDto {
  bucket: string;
  entries: AclEntryDto[];
}
