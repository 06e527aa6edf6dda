import { Module } from '@nestjs/common';
import { AclModule } from '@app/acl';
import { AssetsModule } from '@app/assets';
import { MetadataModule } from '@app/metadata';
import { MultipartUploadService } from './multipart/multipart-upload.service';
import { UploadSessionRepository } from './multipart/upload-session.repository';
import { QuotaController } from './quota/quota.controller';
import { QuotaRepository } from './quota/quota.repository';
import { QuotaService } from './quota/quota.service';
import { UploadController } from './upload.controller';
import { UploadUrlService } from './upload-url.service';
import { TusService } from './tus/tus.service';

@Module({
  imports: [AssetsModule, MetadataModule, AclModule],
  controllers: [UploadController, QuotaController],
  providers: [UploadUrlService, QuotaService, QuotaRepository, TusService, MultipartUploadService, UploadSessionRepository],
  exports: [QuotaService, TusService],
})
export class UploadModule {}
