export * from './processing.module';
export { registerAssetJobQueue } from './job-queue';
export { ProcessingService } from './processing.service';
export * from './processing.constants';
export { judgeContent } from './content-policy';
export { MALWARE_SCANNER, ScannerUnavailableError } from './scanning/malware-scanner';
export type { MalwareScanner, ScanVerdict } from './scanning/malware-scanner';
