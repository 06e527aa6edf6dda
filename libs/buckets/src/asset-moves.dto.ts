import { ArrayMaxSize, IsArray, IsDefined, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { ApiProperty } from '@nestjs/swagger';

export const MAX_BATCH_DELETE = 1000;

/** POST /media/{id}/move and /copy body. */
export class AssetAddressDto {
  /** Target bucket; default: the asset's current bucket. */
  @IsOptional()
  @IsString({ message: 'bucket must be a bucket name' })
  @MaxLength(63)
  bucket?: string;

  /** Target path (1-1024 bytes of UTF-8, no leading "/", no ".." segment, no control characters; stored NFC). */
  @IsDefined({ message: 'path is required' })
  @IsString({ message: 'path must be a string' })
  @MaxLength(4096)
  path: string;
}

/** POST /media/batch-delete body: ids, and/or paths in one bucket; at most 1000 entries in all. */
export class BatchDeleteDto {
  @IsOptional()
  @IsArray({ message: 'ids must be a list of asset ids' })
  @ArrayMaxSize(MAX_BATCH_DELETE)
  @IsUUID('all', { each: true, message: 'ids must hold asset ids (UUIDs)' })
  ids?: string[];

  /** The bucket of `paths` (default: the default bucket). */
  @IsOptional()
  @IsString({ message: 'bucket must be a bucket name' })
  @MaxLength(63)
  bucket?: string;

  @IsOptional()
  @IsArray({ message: 'paths must be a list of paths' })
  @ArrayMaxSize(MAX_BATCH_DELETE)
  @IsString({ each: true, message: 'paths must hold strings' })
  @MaxLength(4096, { each: true })
  paths?: string[];
}

/** The outcome of one entry: 204 deleted, 403 readable but not deletable, 404 not found (or not readable). */
export class BatchDeleteResultDto {
  @ApiProperty({ required: false, format: 'uuid' })
  id?: string;
  @ApiProperty({ required: false })
  path?: string;
  @ApiProperty({ enum: [204, 403, 404] })
  status: 204 | 403 | 404;
}

export class BatchDeleteResponseDto {
  /** One result per entry, in the order given (ids first, then paths). */
  results: BatchDeleteResultDto[];
}
