import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { STORAGE_CONFIG, StorageConfig } from '@app/core';
import { RegionRouter } from '../regions/region-router';
import { BucketCorsStorage, canSetBucketCors, StorageDriver } from '../storage-driver';
import { bucketCorsRule } from './bucket-cors.rule';

/**
 * Browsers PUT to S3 buckets cross-origin, so every s3 region's bucket needs a CORS rule allowing the page's
 * origin (CORS_ALLOWED_ORIGINS). With S3_APPLY_CORS=true it is applied with PutBucketCors at start-up (bounded by
 * the S3 request timeout; a failure is logged and the service starts anyway: only browsers are affected);
 * otherwise the rule is logged as JSON for the operator to apply. Local regions are served by this service.
 */
@Injectable()
export class BucketCorsService implements OnModuleInit {
  private readonly logger = new Logger('BucketCors');

  constructor(
    private readonly router: RegionRouter,
    @Inject(STORAGE_CONFIG) private readonly config: StorageConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const rule = bucketCorsRule(this.config.corsAllowedOrigins);
    const configuration = JSON.stringify({ CORSRules: [rule] });
    // The regions whose driver can set its bucket's CORS configuration (s3); local regions are served by this service.
    const s3Regions = this.router.regions.filter((r): r is typeof r & { driver: StorageDriver & BucketCorsStorage } =>
      canSetBucketCors(r.driver),
    );
    // All buckets at once: start-up waits at most one S3 request timeout, however many regions there are.
    await Promise.all(
      s3Regions.map(async ({ name, driver }) => {
        if (!this.config.S3_APPLY_CORS) {
          this.logger.log(
            `Bucket "${driver.bucket}" (region "${name}") needs this CORS configuration for browser uploads ` +
              `(S3_APPLY_CORS=true applies it at start-up): ${configuration}`,
          );
          return;
        }
        try {
          await driver.putBucketCors([rule]);
          this.logger.log(
            `Applied the CORS rule to bucket "${driver.bucket}" (region "${name}"): origins ${rule.AllowedOrigins.join(', ')}`,
          );
        } catch (e) {
          this.logger.error(
            `Could not apply the CORS rule to bucket "${driver.bucket}" (region "${name}"): ${(e as Error).message}. ` +
              `Browser uploads to it will fail until it is applied: ${configuration}`,
          );
        }
      }),
    );
  }
}
