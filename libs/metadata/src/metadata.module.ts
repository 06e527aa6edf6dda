import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AssetCacheModule } from '@app/asset-cache';
import { AssetMetadata } from './asset-metadata.entity';
import { MetadataController } from './metadata.controller';
import { MetadataRepository } from './metadata.repository';
import { MetadataService } from './metadata.service';

@Module({
  imports: [TypeOrmModule.forFeature([AssetMetadata]), AssetCacheModule],
  controllers: [MetadataController],
  providers: [MetadataRepository, MetadataService],
  exports: [MetadataService],
})
export class MetadataModule {}
