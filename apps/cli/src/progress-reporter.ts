import { MultiBar, Presets, SingleBar } from 'cli-progress';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** One transfer's progress display. */
export interface ProgressTask {
  update(loaded: number, phase?: string): void;
  done(summary: string): void;
  fail(): void;
}

export interface ProgressReporter {
  start(name: string, total: number): ProgressTask;
  /** A message line on stderr (above the bars on a terminal). */
  log(line: string): void;
  stop(): void;
}

const shortName = (name: string) => (name.length > 14 ? `${name.slice(0, 6)}…${name.slice(-7)}` : name.padEnd(14));
const formatSeconds = (s: number) =>
  s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`
      : `${Math.ceil(s)}s`;

/**
 * Speed over the last few seconds of one transfer. The first reading is the base: bytes already there when the
 * phase started (parts stored before a resume) do not count as speed. A multipart upload reports the sum over its
 * parts, so speed and ETA hold across parts.
 */
export class RateMeter {
  private samples: Array<{ t: number; loaded: number }> = [];

  constructor(private readonly windowMs = 5000) {}

  reset(): void {
    this.samples = [];
  }

  /** Records `loaded` now; answers bytes per second (0 until there is something to measure). */
  sample(loaded: number, now = Date.now()): number {
    // One sample per 100 ms at most (updates come per chunk, thousands a second on a fast link).
    const last = this.samples[this.samples.length - 1];
    if (!last || now - last.t >= 100) this.samples.push({ t: now, loaded });
    while (this.samples.length > 2 && now - this.samples[1].t > this.windowMs) this.samples.shift();
    const first = this.samples[0];
    const secs = (now - first.t) / 1000;
    return secs > 0.05 ? Math.max(0, loaded - first.loaded) / secs : 0;
  }
}

/** Bars with speed and ETA (cli-progress) on a terminal; on stderr so stdout stays for results. */
export class BarProgressReporter implements ProgressReporter {
  private readonly bars = new MultiBar(
    {
      stream: process.stderr,
      // Fits 80 columns: name, phase, bar, percent, bytes so far, speed, time left.
      format: ' {name} {phase} {bar} {percentage}% {loadedH} {speed} eta {etaH}',
      barsize: 14,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
    },
    Presets.shades_classic,
  );

  start(name: string, total: number): ProgressTask {
    let currentPhase = '';
    const meter = new RateMeter();
    const max = Math.max(total, 1);
    const payload = {
      name: shortName(name),
      phase: ''.padEnd(10),
      loadedH: formatBytes(0),
      totalH: formatBytes(total),
      speed: '-',
      etaH: '-',
    };
    const bar: SingleBar = this.bars.create(max, 0, payload);
    return {
      update: (loaded, phase = '') => {
        if (phase !== currentPhase) {
          // Speed and ETA per phase (hashing, uploading): restart the meter.
          currentPhase = phase;
          meter.reset();
        }
        const rate = meter.sample(loaded);
        bar.update(Math.min(loaded, max), {
          phase: phase.padEnd(10),
          loadedH: formatBytes(loaded),
          speed: rate ? `${formatBytes(rate)}/s` : '-',
          etaH: rate ? formatSeconds(Math.max(0, total - loaded) / rate) : '-',
        });
      },
      done: (summary) => bar.update(max, { phase: summary.padEnd(10), loadedH: formatBytes(total), etaH: '0s' }),
      fail: () => bar.update({ phase: 'failed'.padEnd(10) }),
    };
  }

  log(line: string): void {
    this.bars.log(`${line}\n`);
  }

  stop(): void {
    this.bars.stop();
  }
}

/** Plain lines when stderr is not a terminal (logs, CI): start, each quarter, end. */
export class LineProgressReporter implements ProgressReporter {
  start(name: string, total: number): ProgressTask {
    const started = Date.now();
    let lastQuarter = -1;
    let lastPhase = '';
    // Bytes already stored when the upload phase started (a resumed upload's parts) are not this run's.
    let resumed: number | null = null;
    process.stderr.write(`${name}: ${formatBytes(total)}\n`);
    return {
      update: (loaded, phase = '') => {
        if (phase !== lastPhase) {
          lastPhase = phase;
          lastQuarter = -1;
          if (phase === 'uploading' && resumed === null) resumed = loaded;
        }
        const quarter = total > 0 ? Math.floor((loaded / total) * 4) : 4;
        if (quarter > lastQuarter && quarter > 0 && quarter < 4) {
          lastQuarter = quarter;
          process.stderr.write(`${name}: ${phase ? `${phase} ` : ''}${quarter * 25}%\n`);
        }
      },
      done: (summary) => {
        const secs = (Date.now() - started) / 1000;
        const moved = Math.max(0, total - (resumed ?? 0));
        process.stderr.write(
          `${name}: ${summary} (${formatBytes(moved)} in ${secs.toFixed(1)} s, ${formatBytes(moved / Math.max(secs, 0.001))}/s)\n`,
        );
      },
      fail: () => undefined,
    };
  }

  log(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  stop(): void {}
}

export const createProgressReporter = (quiet: boolean): ProgressReporter =>
  quiet
    ? {
        start: () => ({ update: () => undefined, done: () => undefined, fail: () => undefined }),
        log: () => undefined,
        stop: () => undefined,
      }
    : process.stderr.isTTY
      ? new BarProgressReporter()
      : new LineProgressReporter();
