import { randomUUID } from 'node:crypto';
import { readlinkSync, rmSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { removeFile } from './file-ops';

/** What a claim file holds: until when it may be held, and which process holds it. */
interface ClaimRecord {
  deadline: number;
  host: string;
  pid: number;
  instance: string;
  token: string;
}

/** This process (a restarted service on the same host may get the same pid: the instance tells them apart). */
const INSTANCE = randomUUID();
const HOST = hostname();

/** A claim file is complete when it appears (see create); one unreadable for this long is garbage. */
const EMPTY_CLAIM_STALE_MS = 60_000;
/** The takeover lock is held for a few file operations; one older than this was left by a crash. */
const STEAL_LOCK_STALE_MS = 30_000;

/** A held claim: `release` removes the file if it is still this holder's (idempotent); `releaseSync` where no await fits. */
export interface HeldClaim {
  release(): Promise<void>;
  releaseSync(): void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Exclusive claims as files under one directory, atomic across every process that shares it: a claim is a symbolic
 * link whose target is its record (symlink never replaces an existing name), so of concurrent claimants exactly one
 * wins, and the record appears with the name in one system call. A claim is stale once its deadline has
 * passed, or when the process that holds it (on this host) is gone; a stale claim is taken over under a short
 * takeover lock (itself created with O_EXCL), so two claimants never both take over the same stale claim.
 */
export class ClaimFiles {
  constructor(readonly dir: string) {}

  /** Claims `name` until `deadlineMs` (epoch ms); null when someone else holds it. */
  async acquire(name: string, deadlineMs: number): Promise<HeldClaim | null> {
    const file = this.file(name);
    const record: ClaimRecord = { deadline: deadlineMs, host: HOST, pid: process.pid, instance: INSTANCE, token: randomUUID() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.create(file, record);
        return { release: () => this.release(file, record.token), releaseSync: () => releaseSync(file, record.token) };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException)?.code;
        if (code === 'ENOENT') {
          await mkdir(path.dirname(file), { recursive: true });
          continue;
        }
        if (code !== 'EEXIST') throw err;
      }
      if (!(await this.removeIfStale(file))) return null;
    }
    return null;
  }

  /**
   * Creates `file` holding `record`, or fails with EEXIST: a symbolic link with the record as its target is created
   * with its content in one atomic system call, so a claim is never seen half-written, even after a crash (one file
   * call, where a record file written as a draft and hard-linked to the claim's name took five thread-pool
   * operations; reading it back is one readlink instead of open, fstat, read and close).
   */
  private async create(file: string, record: ClaimRecord): Promise<void> {
    await symlink(JSON.stringify(record), file);
  }

  /** The first free of `slots` claims named `<prefix>0`, `<prefix>1`, …; null when all are held. */
  async acquireSlot(prefix: string, slots: number, deadlineMs: number): Promise<HeldClaim | null> {
    for (let i = 0; i < slots; i++) {
      const held = await this.acquire(`${prefix}${i}`, deadlineMs);
      if (held) return held;
    }
    return null;
  }

  /**
   * Claims `name` and one of `slots` slots under `slotPrefix` together (a body streaming to one target, counted
   * against its owner's bound): `busy` when `name` is held, `full` when every slot is (nothing is then held).
   */
  async acquireWithSlot(
    name: string,
    slotPrefix: string,
    slots: number,
    deadlineMs: number,
  ): Promise<{ held: HeldClaim } | { refused: 'busy' | 'full' }> {
    const claim = await this.acquire(name, deadlineMs);
    if (!claim) return { refused: 'busy' };
    let slot: HeldClaim | null;
    try {
      slot = await this.acquireSlot(slotPrefix, slots, deadlineMs);
    } catch (e) {
      await claim.release();
      throw e;
    }
    if (!slot) {
      await claim.release();
      return { refused: 'full' };
    }
    const held = slot;
    return {
      held: {
        release: async () => {
          await held.release();
          await claim.release();
        },
        releaseSync: () => {
          held.releaseSync();
          claim.releaseSync();
        },
      },
    };
  }

  /** Removes the claims that are stale (a sweep: a live claim is never touched). */
  async purgeStale(names: string[]): Promise<void> {
    for (const name of names) await this.removeIfStale(this.file(name)).catch(() => false);
  }

  private file(name: string): string {
    const file = path.resolve(this.dir, name);
    if (!file.startsWith(this.dir + path.sep)) throw new Error(`claim name escapes its directory: ${name}`);
    return file;
  }

  private async release(file: string, token: string): Promise<void> {
    const rec = await readRecord(file);
    if (rec && rec !== 'empty' && rec.token === token) await removeFile(file);
  }

  /** Whether `file` was stale and is gone now (false: someone holds it, or another claimant is taking it over). */
  private async removeIfStale(file: string): Promise<boolean> {
    const seen = await readRecord(file);
    if (seen === null) return true; // released meanwhile
    if (!(await isStale(file, seen))) return false;
    const lock = `${file}.takeover`;
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException)?.code !== 'EEXIST') throw err;
      const st = await lstat(lock).catch(() => null);
      if (st && Date.now() - st.mtimeMs > STEAL_LOCK_STALE_MS) await removeFile(lock);
      return false;
    }
    try {
      // Under the takeover lock nobody else removes the file; it is replaced only after it is gone.
      const now = await readRecord(file);
      if (now === null) return true;
      const same = now === 'empty' ? seen === 'empty' : seen !== 'empty' && now.token === seen.token;
      if (!same || !(await isStale(file, now))) return false;
      await removeFile(file);
      return true;
    } finally {
      await removeFile(lock);
    }
  }
}

function releaseSync(file: string, token: string): void {
  let rec: ClaimRecord | undefined;
  try {
    rec = JSON.parse(readlinkSync(file, 'utf8')) as ClaimRecord;
  } catch {
    return; // gone (or not a record this process wrote, so not ours)
  }
  if (rec?.token === token) rmSync(file, { force: true });
}

/**
 * The record in `file` (a symbolic link's target; a regular file's content for a claim left by an earlier version,
 * which wrote claims as files); 'empty' when it cannot be read as one, null when there is no file.
 */
async function readRecord(file: string): Promise<ClaimRecord | 'empty' | null> {
  let text: string;
  try {
    text = await readlink(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT') return null;
    if (code !== 'EINVAL') throw err;
    // Not a symbolic link: a claim file of an earlier version.
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') return null;
      throw e;
    }
  }
  try {
    const rec = JSON.parse(text) as ClaimRecord;
    return typeof rec?.deadline === 'number' && typeof rec.token === 'string' ? rec : 'empty';
  } catch {
    return 'empty';
  }
}

async function isStale(file: string, rec: ClaimRecord | 'empty'): Promise<boolean> {
  if (rec === 'empty') {
    const st = await lstat(file).catch(() => null);
    return !!st && Date.now() - st.mtimeMs > EMPTY_CLAIM_STALE_MS;
  }
  if (rec.deadline <= Date.now()) return true;
  if (rec.host !== HOST) return false;
  if (rec.pid === process.pid) return rec.instance !== INSTANCE;
  return !processAlive(rec.pid);
}
