import { ApiProperty } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsIn,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { API_KEY_SCOPES, type ApiKeyScope } from '@app/core';

export class CreateApiKeyDto {
  /** What the key is for, e.g. the back end that holds it (1–100 characters). */
  @ApiProperty({ example: 'billing-backend', minLength: 1, maxLength: 100 })
  @IsString()
  @Matches(/\S/, { message: 'name must not be blank' })
  @MaxLength(100)
  name: string;

  /**
   * What the key may do: `read` (GET routes), `write` (uploads, metadata, ACL, deletions and other changes), `admin`
   * (the admin routes; only an admin may grant it).
   */
  @ApiProperty({ enum: API_KEY_SCOPES, enumName: 'ApiKeyScope', isArray: true, example: ['read', 'write'] })
  @IsArray()
  @ArrayNotEmpty()
  @ArrayUnique()
  @ArrayMaxSize(API_KEY_SCOPES.length)
  @IsIn(API_KEY_SCOPES, { each: true, message: `each scope must be one of ${API_KEY_SCOPES.join(', ')}` })
  scopes: ApiKeyScope[];

  /** When the key stops working (ISO 8601 date-time in the future); omitted: it works until revoked. */
  @ApiProperty({ required: false, format: 'date-time', example: '2027-12-31T23:59:59Z' })
  @IsOptional()
  @IsISO8601({ strict: true, strictSeparator: true }, { message: 'expiresAt must be an ISO 8601 date-time, e.g. 2027-12-31T23:59:59Z' })
  expiresAt?: string;
}

/** A key as listed: never the key itself. */
export class ApiKeyView {
  id: string;
  name: string;
  /** The key's first characters (`msk_` + 8), to recognise it; not usable as a key. */
  prefix: string;
  @ApiProperty({ enum: API_KEY_SCOPES, enumName: 'ApiKeyScope', isArray: true })
  scopes: ApiKeyScope[];
  /** The user the key acts as (its creator). */
  creatorId: string;
  @ApiProperty({ format: 'date-time' })
  createdAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  expiresAt: string | null;
  /** Approximate: recorded at most once a minute (API_KEY_LAST_USED_FLUSH_SECONDS) per replica. */
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  lastUsedAt: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  revokedAt: string | null;
}

/** The creation answer: the only time the key is shown. */
export class CreatedApiKeyView extends ApiKeyView {
  /** The API key (`msk_` + 54 base64url characters): send it as `X-Api-Key: <key>` or `Authorization: Bearer <key>`. Store it now: it cannot be shown again. */
  key: string;
}

export class ApiKeyListDto {
  /** The caller's keys, oldest first, revoked and expired ones included. */
  items: ApiKeyView[];
}
