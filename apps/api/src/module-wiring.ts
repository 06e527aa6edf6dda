import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '@app/core';
import { LifecycleEvents } from '@app/lifecycle';
import { TusService } from '@app/upload';

/**
 * Connections between domain modules that neither should know about: the tus staging purge joins the
 * expire-pending job, and lifecycle findings feed the metrics.
 */
@Injectable()
export class ModuleWiring implements OnModuleInit {
  constructor(
    private readonly lifecycle: LifecycleEvents,
    private readonly tus: TusService,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    this.lifecycle.registerExpirer('tus', { purgeExpired: (now) => this.tus.purgeExpired(now) });
    this.lifecycle.onCorruptObject(() => this.metrics.recordCorrupt());
  }
}
