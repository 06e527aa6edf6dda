import { Module } from '@nestjs/common';
import { AclModule } from '@app/acl';
import { AssetsModule } from '@app/assets';
import { BucketsModule } from '@app/buckets';
import { MetadataModule } from '@app/metadata';
import { MultipartUploadService } from './multipart/multipart-upload.service';
import { UploadSessionRepository } from './multipart/upload-session.repository';
import { UploadController } from './upload.controller';
import { UploadUrlService } from './upload-url.service';
import { TusService } from './tus/tus.service';

@Module({
  imports: [AssetsModule, MetadataModule, AclModule, BucketsModule],
  controllers: [UploadController],
  providers: [UploadUrlService, TusService, MultipartUploadService, UploadSessionRepository],
  exports: [TusService],
})
export class UploadModule {}
