import { Module } from '@nestjs/common';
import { UploadPageController } from './upload-page.controller';
import { UploadPageService } from './upload-page.service';

/** The browser upload page (static HTML, one ES module, CSS; no build step). */
@Module({
  controllers: [UploadPageController],
  providers: [UploadPageService],
})
export class WebModule {}
