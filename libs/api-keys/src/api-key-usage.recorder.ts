import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SECURITY_CONFIG, SecurityConfig } from '@app/core';
import { ApiKeysRepository } from './api-keys.repository';

/**
 * `lastUsedAt` without a write per request: uses are noted in memory (the latest time per key) and written in one
 * UPDATE every API_KEY_LAST_USED_FLUSH_SECONDS, and once more at shutdown. A key's row is thus written at most once
 * per interval by each replica, however many requests it makes. A failed write keeps the times for the next one.
 */
@Injectable()
export class ApiKeyUsageRecorder implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ApiKeys');
  private pending = new Map<string, Date>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly repo: ApiKeysRepository,
    @Inject(SECURITY_CONFIG) private readonly security: SecurityConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.security.API_KEY_LAST_USED_FLUSH_SECONDS * 1000);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Notes a use of key `id` at `at`. */
  touch(id: string, at: Date): void {
    const seen = this.pending.get(id);
    if (!seen || seen < at) this.pending.set(id, at);
  }

  /** Writes what was noted since the last flush (one at a time). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.pending.size) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.repo.recordLastUsed(batch);
      } catch (e) {
        for (const [id, at] of batch) this.touch(id, at);
        this.logger.warn(`could not record API key use (kept for the next try): ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    return this.flushing;
  }
}
