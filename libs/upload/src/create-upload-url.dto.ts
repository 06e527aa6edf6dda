import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsObject, IsOptional, IsString, Matches, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { AclEntryDto, MAX_ACL_ENTRIES } from '@app/acl';

export const MIME_TYPE_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

export class CreateUploadUrlDto {
  /** Original file name, used for Content-Disposition on download. Never part of a storage key. */
  @IsString()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  @MinLength(1)
  @MaxLength(255)
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'filename must not contain control characters' })
  filename: string;

  /** Declared type, e.g. image/jpeg; the upload must be sent with exactly this Content-Type. */
  @IsString()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value))
  @Matches(MIME_TYPE_PATTERN, { message: 'mimeType must be a media type like "image/jpeg" (no parameters)' })
  mimeType: string;

  /** Exact size in bytes. */
  @IsInt({ message: 'sizeBytes must be an integer number of bytes' })
  @Min(0)
  sizeBytes: number;

  /** Optional lower-case hex SHA-256 of the bytes; when given, storage refuses any other body. */
  @IsOptional()
  @IsString()
  @Matches(/^[0-9a-fA-F]{64}$/, { message: 'checksumSha256 must be 64 hexadecimal characters' })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value))
  checksumSha256?: string;

  /** Lifetime of the signed URL in seconds; at most UPLOAD_URL_TTL_SECONDS, which is also the default. */
  @IsOptional()
  @IsInt({ message: 'expiresInSeconds must be an integer number of seconds' })
  @Min(1)
  expiresInSeconds?: number;

  /** `put` (default): a signed PUT URL. `post`: a signed browser form upload with a content-length-range policy. */
  @IsOptional()
  @IsIn(['put', 'post'])
  mode?: 'put' | 'post';

  /**
   * `true`: a multipart upload (part URLs) whatever the size. Omitted: multipart when sizeBytes exceeds
   * MULTIPART_THRESHOLD_BYTES and no `mode` is given. `false`: never.
   */
  @IsOptional()
  @IsBoolean({ message: 'multipart must be true or false' })
  multipart?: boolean;

  /** Grants given with the upload, e.g. `[{ "principal": "group:editors", "permission": "read" }]`. */
  @IsOptional()
  @IsArray({ message: 'acl must be a list of { principal, permission }' })
  @ArrayMaxSize(MAX_ACL_ENTRIES)
  @ValidateNested({ each: true })
  @Type(() => AclEntryDto)
  acl?: AclEntryDto[];

  /** User metadata `{ key: value }`: keys [a-z0-9_.:-]{1,64}, values up to 4 KiB, at most 64 keys, no reserved namespace. */
  @IsOptional()
  @IsObject({ message: 'metadata must be an object of key/value strings' })
  metadata?: Record<string, string>;
}
