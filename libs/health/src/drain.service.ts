import { Injectable, Logger } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { withTimeout } from '@app/core';

/** What this service needs of a Bull queue (duck-typed, so any module's queues are found). */
interface ClosableQueue {
  name: string;
  close(doNotWaitJobs?: boolean): Promise<void>;
  whenCurrentJobsFinished(): Promise<void>;
}

function isBullQueue(v: unknown): v is ClosableQueue {
  const q = v as Partial<ClosableQueue> | null;
  return (
    !!q &&
    typeof q === 'object' &&
    typeof q.close === 'function' &&
    typeof q.whenCurrentJobsFinished === 'function' &&
    typeof q.name === 'string'
  );
}

/**
 * Graceful shutdown state. Once `begin()` is called (SIGTERM), /health/ready fails so load balancers stop
 * sending traffic; `stopWorkers()` then makes every Bull queue of this process stop taking jobs and waits
 * for the active ones to finish. The order of the whole shutdown is in apps/api/src/graceful-shutdown.ts.
 */
@Injectable()
export class DrainService {
  private readonly logger = new Logger('Shutdown');
  private startedAt?: Date;

  constructor(private readonly discovery: DiscoveryService) {}

  get draining(): boolean {
    return this.startedAt !== undefined;
  }

  get drainingSince(): Date | undefined {
    return this.startedAt;
  }

  begin(): void {
    this.startedAt ??= new Date();
  }

  /** Closes every Bull queue (no new jobs; active jobs run to completion), bounded by `timeoutMs`. */
  async stopWorkers(timeoutMs: number): Promise<void> {
    const queues = new Map<string, ClosableQueue>();
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.isDependencyTreeStatic() ? wrapper.instance : undefined;
      if (isBullQueue(instance)) queues.set(instance.name, instance);
    }
    if (!queues.size) return;
    this.logger.log(`Waiting for active jobs of ${[...queues.keys()].join(', ')} to finish`);
    await Promise.all(
      [...queues.values()].map((q) =>
        withTimeout(q.close(), timeoutMs, `closing queue ${q.name}`).catch((e) =>
          this.logger.warn(`queue ${q.name}: ${e instanceof Error ? e.message : e}`),
        ),
      ),
    );
  }
}
