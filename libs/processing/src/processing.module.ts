import { DynamicModule, Logger, Module } from '@nestjs/common';
import { PROCESSING_CONFIG, ProcessingConfig } from '@app/core';
import { AssetsModule } from '@app/assets';
import { DerivedMediaController } from './derived/derived-media.controller';
import { DerivedMediaRepository } from './derived/derived-media.repository';
import { DerivedMediaService } from './derived/derived-media.service';
import { ProcessAssetProcessor } from './process-asset.processor';
import { ProcessingAdminController } from './processing-admin.controller';
import { ProcessingAdminService } from './processing-admin.service';
import { PROCESSING_QUEUE } from './processing.constants';
import { registerAssetJobQueue } from './job-queue';
import { ProcessingService } from './processing.service';
import { ReconciliationSchedule, ReconciliationService } from './reconciliation.service';
import { ClamdScanner } from './scanning/clamd.scanner';
import { MALWARE_SCANNER, MalwareScanner, NoScanner } from './scanning/malware-scanner';

const queue = registerAssetJobQueue(PROCESSING_QUEUE);

export function createMalwareScanner(processing: ProcessingConfig): MalwareScanner {
  if (processing.SCANNER === 'clamd') {
    return new ClamdScanner({
      host: processing.CLAMD_HOST,
      port: processing.CLAMD_PORT,
      socketPath: processing.CLAMD_SOCKET,
      connectTimeoutMs: processing.CLAMD_CONNECT_TIMEOUT_MS,
      timeoutMs: processing.CLAMD_TIMEOUT_MS,
    });
  }
  new Logger('Processing').warn(
    'SCANNER=none: uploads are NOT scanned for viruses. Set SCANNER=clamd (and CLAMD_HOST/CLAMD_PORT) in production.',
  );
  return new NoScanner();
}

/**
 * The processing queue, the scanner, derived media and the operators' routes. The worker (job processor and the
 * reconciliation schedule) runs in this process when `worker` is true.
 */
@Module({
  imports: [queue, AssetsModule],
  controllers: [DerivedMediaController, ProcessingAdminController],
  providers: [
    ProcessingService,
    DerivedMediaRepository,
    DerivedMediaService,
    ProcessingAdminService,
    ReconciliationService,
    { provide: MALWARE_SCANNER, inject: [PROCESSING_CONFIG], useFactory: createMalwareScanner },
  ],
  exports: [ProcessingService, MALWARE_SCANNER, queue],
})
export class ProcessingModule {
  static forRoot(opts: { worker: boolean }): DynamicModule {
    return {
      module: ProcessingModule,
      global: true,
      providers: opts.worker ? [ProcessAssetProcessor, ReconciliationSchedule] : [],
    };
  }
}
