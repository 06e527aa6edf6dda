import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The seed's asset_metadata: one key/value per row. */
@Entity({ name: 'asset_metadata' })
export class AssetMetadata {
  @PrimaryColumn({ name: 'asset_id', type: 'uuid' })
  assetId: string;

  @PrimaryColumn({ type: 'varchar', length: 64 })
  key: string;

  @Column({ type: 'text' })
  value: string;
}
