import { Column, Entity, PrimaryColumn } from 'typeorm';

/** asset_metadata: one key/value per row (user keys and the extracted exif:, media:, scan: facts). */
@Entity({ name: 'asset_metadata' })
export class AssetMetadata {
  @PrimaryColumn({ name: 'asset_id', type: 'uuid' })
  assetId: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  key: string;

  @Column({ type: 'text' })
  value: string;
}
