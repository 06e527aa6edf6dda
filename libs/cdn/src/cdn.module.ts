import { BullModule } from '@nestjs/bull';
import { Global, Module } from '@nestjs/common';
import { CDN_QUEUE } from './cdn.constants';
import { CdnInvalidationProcessor } from './cdn-invalidation.processor';
import { CdnService } from './cdn.service';

const cdnQueue = BullModule.registerQueue({ name: CDN_QUEUE });

/** CDN registration, read URLs and invalidations (CDN_PROVIDER=none|cloudfront). */
@Global()
@Module({
  imports: [cdnQueue],
  providers: [CdnService, CdnInvalidationProcessor],
  exports: [CdnService],
})
export class CdnModule {}
