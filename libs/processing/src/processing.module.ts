import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { AssetsModule } from '@app/assets';
import { ProcessAssetProcessor } from './process-asset.processor';
import { PROCESSING_QUEUE } from './processing.constants';
import { ProcessingService } from './processing.service';

const queue = BullModule.registerQueue({ name: PROCESSING_QUEUE });

/** The processing queue. The worker (processor) runs in this process when `worker` is true. */
@Module({
  imports: [queue, AssetsModule],
  providers: [ProcessingService],
  exports: [ProcessingService, queue],
})
export class ProcessingModule {
  static forRoot(opts: { worker: boolean }): DynamicModule {
    return {
      module: ProcessingModule,
      global: true,
      providers: opts.worker ? [ProcessAssetProcessor] : [],
    };
  }
}
