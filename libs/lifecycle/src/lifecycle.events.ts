import { Injectable, Logger } from '@nestjs/common';
import type { LifecycleJobName } from './lifecycle.constants';
import type { ExtraExpirer, LifecycleReport, ObjectKeyOwner } from './lifecycle-job';

export interface JobRunFinished {
  runId: string;
  name: LifecycleJobName;
  trigger: 'schedule' | 'manual';
  dryRun: boolean;
  status: 'succeeded' | 'failed' | 'skipped';
  durationMs: number;
  report: LifecycleReport | null;
}

export interface CorruptObjectFound {
  sha256: string;
  objectKey: string;
  /** Regions whose copy did not hash to sha256. */
  regions: string[];
  /** Whether a healthy copy from another region replaced every corrupt one. */
  restored: boolean;
}

type Listener<T> = (e: T) => void;

/**
 * Hooks for other modules (metrics: runs, durations, corrupt objects) and the registry of extra expirers.
 * Listeners run synchronously and must not throw (a throw is logged and ignored).
 */
@Injectable()
export class LifecycleEvents {
  private readonly logger = new Logger('Lifecycle');
  private readonly runListeners: Listener<JobRunFinished>[] = [];
  private readonly corruptListeners: Listener<CorruptObjectFound>[] = [];
  private readonly expirers = new Map<string, ExtraExpirer>();
  private readonly keyOwners = new Map<string, ObjectKeyOwner>();

  onRunFinished(l: Listener<JobRunFinished>): void {
    this.runListeners.push(l);
  }

  onCorruptObject(l: Listener<CorruptObjectFound>): void {
    this.corruptListeners.push(l);
  }

  /** Adds a purge to expire-pending (one per name). */
  registerExpirer(name: string, expirer: ExtraExpirer): void {
    if (this.expirers.has(name)) throw new Error(`lifecycle expirer "${name}" is registered twice`);
    this.expirers.set(name, expirer);
  }

  extraExpirers(): ReadonlyMap<string, ExtraExpirer> {
    return this.expirers;
  }

  /** Adds a key prefix whose orphans reconcile deletes (one owner per prefix). */
  registerObjectKeyOwner(owner: ObjectKeyOwner): void {
    if (this.keyOwners.has(owner.prefix)) throw new Error(`object key prefix "${owner.prefix}" is registered twice`);
    this.keyOwners.set(owner.prefix, owner);
  }

  objectKeyOwners(): ObjectKeyOwner[] {
    return [...this.keyOwners.values()];
  }

  emitRunFinished(e: JobRunFinished): void {
    this.emit(this.runListeners, e);
  }

  emitCorruptObject(e: CorruptObjectFound): void {
    this.emit(this.corruptListeners, e);
  }

  private emit<T>(listeners: Listener<T>[], e: T): void {
    for (const l of listeners) {
      try {
        l(e);
      } catch (err) {
        this.logger.warn(`lifecycle event listener failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
