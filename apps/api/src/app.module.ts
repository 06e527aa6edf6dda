import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { AclModule } from '@app/acl';
import { ApiKeysModule } from '@app/api-keys';
import { AssetsModule } from '@app/assets';
import { BucketsModule } from '@app/buckets';
import { CdnModule } from '@app/cdn';
import { AppConfig, CoreModule } from '@app/core';
import { HealthModule } from '@app/health';
import { LifecycleModule } from '@app/lifecycle';
import { MetadataModule } from '@app/metadata';
import { ObservabilityModule } from '@app/observability';
import { ProcessingModule } from '@app/processing';
import { StorageModule } from '@app/storage';
import { StorageEventsModule } from '@app/storage-events';
import { TransformModule } from '@app/transform';
import { UploadModule } from '@app/upload';
import { WebModule } from '@app/web';
import { WebhooksModule } from '@app/webhooks';
import { ModuleWiring } from './module-wiring';

/** Composes the libs into the one deployable. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config),
        BullModule.forRoot({ url: config.REDIS_URL, prefix: `${config.REDIS_KEY_PREFIX}:bull` }),
        StorageModule,
        CdnModule,
        MetadataModule,
        AssetsModule,
        AclModule,
        ApiKeysModule,
        BucketsModule,
        ProcessingModule.forRoot({ worker: config.WORKER_ENABLED }),
        WebhooksModule.forRoot({ worker: config.WORKER_ENABLED }),
        UploadModule.forRoot({ worker: config.WORKER_ENABLED }),
        StorageEventsModule.forRoot({ worker: config.WORKER_ENABLED }),
        TransformModule,
        LifecycleModule.forRoot({ worker: config.WORKER_ENABLED }),
        HealthModule,
        WebModule,
        ObservabilityModule.forRoot(config),
      ],
      providers: [ModuleWiring],
    };
  }
}
