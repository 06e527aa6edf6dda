import { IsDefined, IsString } from 'class-validator';

export class SetMetadataValueDto {
  /** Up to 4 KiB of UTF-8. */
  @IsDefined({ message: 'value is required' })
  @IsString({ message: 'value must be a string' })
  value: string;
}

export class AssetMetadataView {
  assetId: string;
  metadata: Record<string, string>;
}
