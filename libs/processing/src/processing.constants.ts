/** Queue names, job names and outbox topics of the processing module, in one place. */
export const PROCESSING_QUEUE = 'processing';
export const PROCESS_ASSET_JOB = 'process-asset';
export const ASSET_PROCESS_TOPIC = 'asset.process';

export interface ProcessAssetJobData {
  assetId: string;
  /** Declared checksum, or '' when none: with the asset id it is the job's idempotency key. */
  checksum: string;
}

export const processAssetJobId = (d: ProcessAssetJobData) => `${d.assetId}:${d.checksum || 'undeclared'}`;
