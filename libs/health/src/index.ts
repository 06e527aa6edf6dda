export * from './health.module';
export { DrainService } from './drain.service';
