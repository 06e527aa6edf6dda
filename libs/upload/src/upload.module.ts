import { Module } from '@nestjs/common';
import { AssetsModule } from '@app/assets';
import { UploadController } from './upload.controller';
import { UploadUrlService } from './upload-url.service';

@Module({
  imports: [AssetsModule],
  controllers: [UploadController],
  providers: [UploadUrlService],
})
export class UploadModule {}
