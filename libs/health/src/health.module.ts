import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { DrainService } from './drain.service';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'json', gracefulShutdownTimeoutMs: 0 }), DiscoveryModule],
  controllers: [HealthController],
  providers: [DrainService],
  exports: [DrainService],
})
export class HealthModule {}
