import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { AclEntryDto, MAX_ACL_ENTRIES } from '@app/acl';
import { BODY_FAST_PATH, isPlainJsonObject, MAX_EXACT_INTEGER } from '@app/core';
import { MAX_METADATA_VALUE_BYTES, MAX_USER_METADATA_KEYS } from '@app/metadata';

export const MIME_TYPE_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

export class CreateUploadUrlDto {
  /** Bodies of scalar fields only, proved valid without the decorators (see fastCreateUploadUrl). */
  static [BODY_FAST_PATH] = (body: unknown) => fastCreateUploadUrl(body);

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
  @Max(MAX_EXACT_INTEGER, { message: `sizeBytes must be at most ${MAX_EXACT_INTEGER}` })
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
  @Max(MAX_EXACT_INTEGER, { message: `expiresInSeconds must be at most ${MAX_EXACT_INTEGER}` })
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

  /** User-facing bucket to put the asset in (POST /buckets); default: the `default` bucket. Needs `write` on it. */
  @IsOptional()
  @IsString({ message: 'bucket must be a bucket name' })
  @MaxLength(63)
  bucket?: string;

  /**
   * Path of the asset in the bucket, e.g. `avatars/42/me.png`: 1-1024 bytes of UTF-8, no leading "/", no ".." segment,
   * no control characters; stored NFC. Unique among live assets of the bucket (409 PathTaken). Default: the asset id.
   */
  @IsOptional()
  @IsString({ message: 'path must be a string' })
  @MaxLength(4096)
  path?: string;

  /** User metadata `{ key: value }`: keys [a-z0-9_.:-]{1,64}, values up to 4 KiB, at most 64 keys, no reserved namespace. */
  @IsOptional()
  @IsObject({ message: 'metadata must be an object of key/value strings' })
  metadata?: Record<string, string>;
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const CHECKSUM_SHA256 = /^[0-9a-fA-F]{64}$/;
const FAST_PATH_FIELDS = new Set([
  'filename',
  'mimeType',
  'sizeBytes',
  'checksumSha256',
  'expiresInSeconds',
  'mode',
  'multipart',
  'bucket',
  'path',
]);
const isIntegerIn = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/**
 * The CreateUploadUrlDto the ValidationPipe would make of `body`, for bodies of the scalar fields only (no `acl`,
 * no `metadata`) that pass every rule above; `undefined` for anything else, which the ValidationPipe then checks
 * (and explains). The rules, as class-validator applies them after the @Transform()s: filename trimmed, 1–255
 * characters (class-validator's length never exceeds the UTF-16 length checked here), no control characters;
 * mimeType trimmed, lower-cased, MIME_TYPE_PATTERN; sizeBytes an integer in 0..MAX_EXACT_INTEGER; checksumSha256
 * 64 hex digits, lower-cased; expiresInSeconds an integer in 1..MAX_EXACT_INTEGER; mode put/post; multipart a
 * boolean; bucket at most 63 and path at most 4096 characters. A null optional field is left to the pipe.
 * create-upload-url.dto.spec.ts compares the two on generated bodies.
 */
export function fastCreateUploadUrl(body: unknown): CreateUploadUrlDto | undefined {
  if (!isPlainJsonObject(body)) return undefined;
  for (const key in body) if (!FAST_PATH_FIELDS.has(key) || !Object.prototype.hasOwnProperty.call(body, key)) return undefined;
  const { filename, mimeType, sizeBytes, checksumSha256, expiresInSeconds, mode, multipart, bucket, path } = body;
  if (typeof filename !== 'string' || typeof mimeType !== 'string') return undefined;
  const name = filename.trim();
  if (name.length < 1 || name.length > 255 || CONTROL_CHARACTER.test(name)) return undefined;
  const type = mimeType.trim().toLowerCase();
  if (!MIME_TYPE_PATTERN.test(type) || !isIntegerIn(sizeBytes, 0, MAX_EXACT_INTEGER)) return undefined;
  const dto = new CreateUploadUrlDto();
  dto.filename = name;
  dto.mimeType = type;
  dto.sizeBytes = sizeBytes as number;
  if ('checksumSha256' in body) {
    if (typeof checksumSha256 !== 'string' || !CHECKSUM_SHA256.test(checksumSha256)) return undefined;
    dto.checksumSha256 = checksumSha256.toLowerCase();
  }
  if ('expiresInSeconds' in body) {
    if (!isIntegerIn(expiresInSeconds, 1, MAX_EXACT_INTEGER)) return undefined;
    dto.expiresInSeconds = expiresInSeconds as number;
  }
  if ('mode' in body) {
    if (mode !== 'put' && mode !== 'post') return undefined;
    dto.mode = mode;
  }
  if ('multipart' in body) {
    if (typeof multipart !== 'boolean') return undefined;
    dto.multipart = multipart;
  }
  if ('bucket' in body) {
    if (typeof bucket !== 'string' || bucket.length > 63) return undefined;
    dto.bucket = bucket;
  }
  if ('path' in body) {
    if (typeof path !== 'string' || path.length > 4096) return undefined;
    dto.path = path;
  }
  return dto;
}

const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');

/**
 * Bytes of the largest valid POST /media/upload-url body as JSON.stringify writes it: every field at its longest
 * (a 255-character filename of 3-byte characters, MAX_ACL_ENTRIES group grants of 200 characters, MAX_USER_METADATA_KEYS
 * keys of 64 characters whose values are MAX_METADATA_VALUE_BYTES of text that JSON escapes (quotes: 2 bytes each)).
 * Values made of control characters (6 bytes each once escaped) may not fit at the very largest.
 */
export const CREATE_UPLOAD_URL_BODY_MAX_BYTES = (() => {
  const grant = { principal: `group:${'g'.repeat(200)}`, permission: 'delete' };
  const metadataEntry = jsonBytes('k'.repeat(64)) + 1 + jsonBytes('"'.repeat(MAX_METADATA_VALUE_BYTES));
  const scalars = jsonBytes({
    filename: '\u20ac'.repeat(255),
    mimeType: `${'a'.repeat(127)}/${'b'.repeat(127)}`,
    sizeBytes: MAX_EXACT_INTEGER,
    checksumSha256: '0'.repeat(64),
    expiresInSeconds: MAX_EXACT_INTEGER,
    mode: 'post',
    multipart: false,
    bucket: 'b'.repeat(63),
    path: '\u20ac'.repeat(341),
    acl: [],
    metadata: {},
  });
  const acl = MAX_ACL_ENTRIES * jsonBytes(grant) + (MAX_ACL_ENTRIES - 1);
  const metadata = MAX_USER_METADATA_KEYS * metadataEntry + (MAX_USER_METADATA_KEYS - 1);
  return scalars + acl + metadata;
})();
