export * from './lifecycle.module';
export * from './lifecycle.constants';
export { LifecycleEvents } from './lifecycle.events';
export type { JobRunFinished, CorruptObjectFound } from './lifecycle.events';
export type { ExtraExpirer, LifecycleReport, LifecycleRunContext, ObjectKeyOwner } from './lifecycle-job';
export { LifecycleRunner } from './lifecycle-runner.service';
export type { JobRunView } from './job-runs.repository';
export { isOrphanCandidate, targetStorageClass } from './lifecycle-rules';
