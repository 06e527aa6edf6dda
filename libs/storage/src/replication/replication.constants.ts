/** Queue, job names and outbox topic of storage replication, in one place. */
export const REPLICATION_QUEUE = 'storage-replication';
export const REPLICATE_OBJECT_JOB = 'replicate-object';
export const REPLICATION_CATCH_UP_JOB = 'replication-catch-up';
/** Written in the transaction that makes an asset ready; the relay turns it into a replicate job. */
export const OBJECT_REPLICATE_TOPIC = 'object.replicate';

export interface ReplicateObjectJobData {
  /** Logical bucket (as recorded on assets). */
  bucket: string;
  key: string;
}

/** One job per object at a time: a repeated request while one waits is the same job. */
export const replicateJobId = (d: ReplicateObjectJobData) => `replicate:${d.bucket}:${d.key}`;

/** Objects the catch-up task enqueues per tick (the next tick takes the rest). */
export const CATCH_UP_BATCH = 500;
