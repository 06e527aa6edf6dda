import { Module } from '@nestjs/common';
import { AssetsModule } from '@app/assets';
import { TransformController } from './transform.controller';
import { RenderCoalescer } from './render-coalescer';
import { RenderRateLimiter } from './render-rate.limiter';
import { RenditionService } from './rendition.service';
import { RenditionsRepository } from './renditions.repository';
import { TransformMetrics } from './transform.metrics';

/**
 * On-the-fly image transformations: `GET /media/{id}/render`, the renditions cache (rows in `renditions`, bytes in
 * storage under `renditions/`), the per-process render queue, their removal and purge, and their metrics.
 */
@Module({
  imports: [AssetsModule],
  controllers: [TransformController],
  providers: [RenditionsRepository, RenditionService, RenderRateLimiter, RenderCoalescer, TransformMetrics],
  exports: [RenditionService],
})
export class TransformModule {}
