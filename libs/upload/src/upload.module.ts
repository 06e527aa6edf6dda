import { DynamicModule, Module } from '@nestjs/common';
import { AclModule } from '@app/acl';
import { AssetsModule } from '@app/assets';
import { BucketsModule } from '@app/buckets';
import { MetadataModule } from '@app/metadata';
import { registerAssetJobQueue } from '@app/processing';
import { MULTIPART_QUEUE } from './multipart/multipart-assembly.constants';
import { MultipartAssemblyProcessor } from './multipart/multipart-assembly.processor';
import { MultipartUploadService } from './multipart/multipart-upload.service';
import { UploadSessionRepository } from './multipart/upload-session.repository';
import { UploadController } from './upload.controller';
import { UploadUrlService } from './upload-url.service';
import { TusService } from './tus/tus.service';

/** The assembly queue: a worker that dies mid-job loses its lock after PROCESSING_LOCK_DURATION_MS and the job runs again. */
const queue = registerAssetJobQueue(MULTIPART_QUEUE);

@Module({
  imports: [queue, AssetsModule, MetadataModule, AclModule, BucketsModule],
  controllers: [UploadController],
  providers: [UploadUrlService, TusService, MultipartUploadService, UploadSessionRepository],
  exports: [TusService],
})
export class UploadModule {
  /** The assembly worker runs in this process when `worker` is true. */
  static forRoot(opts: { worker: boolean }): DynamicModule {
    return { module: UploadModule, providers: opts.worker ? [MultipartAssemblyProcessor] : [] };
  }
}
