import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@app/core';
import { AssetsService } from '@app/assets';
import { EntityManager } from 'typeorm';
import { checkQuota, effectiveLimits, QuotaLimits, QuotaOverride, QuotaUsage } from './quota-rules';
import { QuotaRepository } from './quota.repository';

export interface QuotaView {
  ownerId: string;
  limits: QuotaLimits;
  usage: QuotaUsage;
}

/**
 * Per-owner limits on bytes and asset count. Usage = processing/ready assets (a counter kept in the same
 * transaction as every status change, by a trigger) + pending uploads until they expire.
 */
@Injectable()
export class QuotaService {
  constructor(
    private readonly repo: QuotaRepository,
    private readonly assets: AssetsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Inside the transaction that creates the pending asset: locks the owner's usage (so concurrent requests of
   * one owner are checked one after the other) and refuses when one more asset of `sizeBytes` does not fit.
   */
  async reserve(m: EntityManager, ownerId: string, sizeBytes: number): Promise<void> {
    const usage = await this.assets.usage(ownerId, m);
    const limits = await this.limits(ownerId, m);
    checkQuota(ownerId, limits, usage, sizeBytes);
  }

  async view(ownerId: string): Promise<QuotaView> {
    const [limits, usage] = await Promise.all([this.limits(ownerId), this.assets.usage(ownerId)]);
    return { ownerId, limits, usage };
  }

  async setOverride(ownerId: string, o: QuotaOverride): Promise<QuotaView> {
    if (o.maxBytes === null && o.maxAssets === null) await this.repo.deleteOverride(ownerId);
    else await this.repo.upsertOverride(ownerId, o);
    return this.view(ownerId);
  }

  private async limits(ownerId: string, m?: EntityManager): Promise<QuotaLimits> {
    const defaults = { maxBytes: this.config.QUOTA_MAX_BYTES_PER_OWNER, maxAssets: this.config.QUOTA_MAX_ASSETS_PER_OWNER };
    return effectiveLimits(defaults, await this.repo.findOverride(ownerId, m));
  }
}
