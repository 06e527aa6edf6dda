import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AssetMetadata } from './asset-metadata.entity';
import { MetadataService } from './metadata.service';

@Module({
  imports: [TypeOrmModule.forFeature([AssetMetadata])],
  providers: [MetadataService],
  exports: [MetadataService],
})
export class MetadataModule {}
