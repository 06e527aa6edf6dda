export * from './processing.module';
export { ProcessingService } from './processing.service';
export * from './processing.constants';
export { judgeContent } from './content-policy';
