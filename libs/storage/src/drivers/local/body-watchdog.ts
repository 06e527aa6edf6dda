import type { IncomingMessage } from 'node:http';

export type BodyTimeout = 'idle' | 'deadline';

/** A running watch: `stop` ends it (call it when the body is done, however it ended); `deadline` sets or moves the deadline. */
export interface BodyWatch {
  stop(): void;
  deadline(deadlineMs: number): void;
}

/**
 * Watches an upload body without reading it: no byte arrives on the request's socket for `idleMs` → 'idle';
 * `deadlineMs` (epoch ms) passes before the body is done → 'deadline'. `onTimeout` is called once, then the watch
 * stops.
 */
export function watchBody(
  req: IncomingMessage,
  limits: { idleMs: number; deadlineMs?: number },
  onTimeout: (why: BodyTimeout) => void,
): BodyWatch {
  const socket = req.socket;
  let lastRead = socket.bytesRead;
  let lastProgress = Date.now();
  let done = false;
  const stop = () => {
    done = true;
    clearInterval(idleTimer);
    if (deadlineTimer) clearTimeout(deadlineTimer);
  };
  const fire = (why: BodyTimeout) => {
    if (done) return;
    stop();
    onTimeout(why);
  };
  const idleTimer = setInterval(
    () => {
      const read = socket.bytesRead;
      const now = Date.now();
      if (read !== lastRead) {
        lastRead = read;
        lastProgress = now;
      } else if (now - lastProgress >= limits.idleMs) fire('idle');
    },
    Math.max(50, Math.min(1000, Math.floor(limits.idleMs / 4))),
  );
  idleTimer.unref();
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = (deadlineMs: number) => {
    if (done) return;
    if (deadlineTimer) clearTimeout(deadlineTimer);
    // setTimeout holds at most 2^31-1 ms; a later deadline is checked again when that one fires.
    const left = deadlineMs - Date.now();
    if (left <= 0) return fire('deadline');
    deadlineTimer = setTimeout(() => deadline(deadlineMs), Math.min(left, 2 ** 31 - 1));
    deadlineTimer.unref();
  };
  if (limits.deadlineMs !== undefined) deadline(limits.deadlineMs);
  return { stop, deadline };
}
