import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthGuard } from './auth/auth.guard';
import { Authenticator } from './auth/authenticator';
import { JwtService } from './auth/jwt.service';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { dataSourceOptions } from './database/database-options';
import { ProblemFilter } from './errors/problem.filter';
import { MetricsService } from './observability/metrics.service';
import { OutboxService } from './outbox/outbox.service';
import { PrincipalThrottlerGuard, rateLimitOptions, UploadCreationLimiter } from './http/rate-limit';
import { REDIS_COUNTERS, RedisModule } from './redis/redis.module';
import { REDIS_CONFIG, SECURITY_CONFIG } from './config/config-sections';
import { Clock, createClock } from './clock/clock';

/** Config, database, Redis, auth, errors, metrics and the outbox: everything domain modules stand on. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot({
          ...dataSourceOptions(config),
          autoLoadEntities: true,
          migrationsRun: config.DATABASE_MIGRATE_ON_START,
          retryAttempts: 3,
          retryDelay: 1000,
        }),
        RedisModule,
        ThrottlerModule.forRootAsync({ inject: [SECURITY_CONFIG, REDIS_CONFIG, REDIS_COUNTERS], useFactory: rateLimitOptions }),
      ],
      providers: [
        JwtService,
        Authenticator,
        OutboxService,
        MetricsService,
        PrincipalThrottlerGuard,
        UploadCreationLimiter,
        { provide: Clock, useFactory: () => createClock(config) },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
      exports: [
        ConfigModule,
        JwtService,
        Authenticator,
        OutboxService,
        MetricsService,
        RedisModule,
        PrincipalThrottlerGuard,
        UploadCreationLimiter,
        Clock,
      ],
    };
  }
}
