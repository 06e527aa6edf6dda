import { MAX_EXACT_INTEGER } from '@app/core';
import { IsDefined, IsInt, Max, Min, ValidateIf } from 'class-validator';

/** Per-owner override; null for a limit returns it to the default (both null removes the override). 0 = unlimited. */
export class SetQuotaDto {
  @IsDefined({ message: 'maxBytes is required (null = the default)' })
  @ValidateIf((o: SetQuotaDto) => o.maxBytes !== null)
  @IsInt({ message: 'maxBytes must be an integer number of bytes or null' })
  @Min(0)
  @Max(MAX_EXACT_INTEGER, { message: `maxBytes must be at most ${MAX_EXACT_INTEGER}` })
  maxBytes: number | null;

  @IsDefined({ message: 'maxAssets is required (null = the default)' })
  @ValidateIf((o: SetQuotaDto) => o.maxAssets !== null)
  @IsInt({ message: 'maxAssets must be an integer or null' })
  @Min(0)
  @Max(MAX_EXACT_INTEGER, { message: `maxAssets must be at most ${MAX_EXACT_INTEGER}` })
  maxAssets: number | null;
}
