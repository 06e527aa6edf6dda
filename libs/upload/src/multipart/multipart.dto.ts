import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { MAX_PARTS, MAX_PARTS_PER_SIGN_REQUEST } from './part-plan';

/** POST /media/{id}/parts: which part URLs to sign now. */
export class SignPartsDto {
  @IsArray({ message: 'partNumbers must be a list of part numbers' })
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_PARTS_PER_SIGN_REQUEST, { message: `at most ${MAX_PARTS_PER_SIGN_REQUEST} part URLs are signed per request` })
  @IsInt({ each: true, message: 'each part number must be an integer' })
  @Min(1, { each: true })
  @Max(MAX_PARTS, { each: true })
  partNumbers: number[];
}

export class CompletedPartDto {
  @IsInt({ message: 'partNumber must be an integer' })
  @Min(1)
  @Max(MAX_PARTS)
  partNumber: number;

  /** The ETag storage answered to the part's PUT (quotes optional). */
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  etag: string;
}

/** POST /media/{id}/complete: the part list, for a multipart upload (ignored for a single PUT). */
export class CompleteUploadDto {
  @IsOptional()
  @IsArray({ message: 'parts must be a list of { partNumber, etag }' })
  @ArrayMaxSize(MAX_PARTS)
  @ValidateNested({ each: true })
  @Type(() => CompletedPartDto)
  parts?: CompletedPartDto[];
}

/**
 * Bytes of the largest valid POST /media/{id}/complete body as JSON.stringify writes it: MAX_PARTS parts, each with
 * a 5-digit part number and an entity tag of 256 characters (`"` + 254 ASCII characters + `"`, the quotes escaped).
 */
export const COMPLETE_UPLOAD_BODY_MAX_BYTES = (() => {
  const part = Buffer.byteLength(JSON.stringify({ partNumber: MAX_PARTS, etag: `"${'e'.repeat(254)}"` }), 'utf8');
  return '{"parts":[]}'.length + MAX_PARTS * part + (MAX_PARTS - 1);
})();
