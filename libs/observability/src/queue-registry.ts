import { Injectable } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import Bull from 'bull';

/**
 * Every Bull queue the app registers (BullModule.registerQueue in any module), found through Nest's
 * DiscoveryService, so that metrics and Bull Board cover a queue as soon as a module adds one.
 */
@Injectable()
export class QueueRegistry {
  private found?: Bull.Queue[];

  constructor(private readonly discovery: DiscoveryService) {}

  /** The queues, each once, by name (valid once the app's providers are instantiated: onModuleInit or later). */
  queues(): Bull.Queue[] {
    if (!this.found) {
      const seen = new Map<string, Bull.Queue>();
      for (const wrapper of this.discovery.getProviders()) {
        const instance: unknown = wrapper.isDependencyTreeStatic() ? wrapper.instance : undefined;
        if (instance instanceof Bull && !seen.has(instance.name)) seen.set(instance.name, instance);
      }
      this.found = [...seen.values()].sort((a, b) => a.name.localeCompare(b.name));
    }
    return this.found;
  }
}
