import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Every file below `dir` (absolute paths); none when it does not exist. */
export function filesUnder(dir: string, opts: { symlinks?: boolean } = {}): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() || (opts.symlinks === true && e.isSymbolicLink()))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Runs `fn` over `items` with at most `width` at once. */
export async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}
