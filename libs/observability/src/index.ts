export * from './observability.module';
export * from './observability.constants';
export * from './http-observability';
export * from './queue-registry';
export { MetricsListener } from './metrics-listener';
