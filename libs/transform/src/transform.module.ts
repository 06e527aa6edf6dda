import { Module } from '@nestjs/common';
import { AssetsModule } from '@app/assets';
import { RenderController } from './render.controller';
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
  controllers: [RenderController],
  providers: [RenditionsRepository, RenditionService, RenderRateLimiter, TransformMetrics],
  exports: [RenditionService],
})
export class TransformModule {}
