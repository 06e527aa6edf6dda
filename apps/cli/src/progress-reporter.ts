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
  stop(): void;
}

/** Bars with speed and ETA (cli-progress) on a terminal; on stderr so stdout stays for results. */
export class BarProgressReporter implements ProgressReporter {
  private readonly bars = new MultiBar(
    {
      stream: process.stderr,
      format: ' {bar} {percentage}% | {loadedH}/{totalH} | {speed} | ETA {eta_formatted} | {phase} {name}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 10,
    },
    Presets.shades_classic,
  );

  start(name: string, total: number): ProgressTask {
    let started = Date.now();
    let currentPhase = '';
    const bar: SingleBar = this.bars.create(Math.max(total, 1), 0, { name, phase: '', loadedH: formatBytes(0), totalH: formatBytes(total), speed: '-' });
    return {
      update: (loaded, phase = '') => {
        if (phase !== currentPhase) {
          // Speed and ETA per phase (hashing, uploading): restart the clock and the bar's ETA window.
          currentPhase = phase;
          started = Date.now();
          bar.start(Math.max(total, 1), loaded, { name, phase, loadedH: formatBytes(loaded), totalH: formatBytes(total), speed: '-' });
        }
        const secs = (Date.now() - started) / 1000;
        bar.update(loaded, { phase, loadedH: formatBytes(loaded), speed: secs > 0.2 ? `${formatBytes(loaded / secs)}/s` : '-' });
      },
      done: (summary) => {
        bar.update(Math.max(total, 1), { phase: summary, loadedH: formatBytes(total) });
        bar.stop();
      },
      fail: () => bar.stop(),
    };
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
    process.stderr.write(`${name}: ${formatBytes(total)}\n`);
    return {
      update: (loaded, phase = '') => {
        if (phase !== lastPhase) {
          lastPhase = phase;
          lastQuarter = -1;
        }
        const quarter = total > 0 ? Math.floor((loaded / total) * 4) : 4;
        if (quarter > lastQuarter && quarter > 0 && quarter < 4) {
          lastQuarter = quarter;
          process.stderr.write(`${name}: ${phase ? `${phase} ` : ''}${quarter * 25}%\n`);
        }
      },
      done: (summary) => {
        const secs = (Date.now() - started) / 1000;
        process.stderr.write(`${name}: ${summary} (${formatBytes(total)} in ${secs.toFixed(1)} s, ${formatBytes(total / Math.max(secs, 0.001))}/s)\n`);
      },
      fail: () => undefined,
    };
  }

  stop(): void {}
}

export const createProgressReporter = (quiet: boolean): ProgressReporter =>
  quiet ? { start: () => ({ update: () => undefined, done: () => undefined, fail: () => undefined }), stop: () => undefined } : process.stderr.isTTY ? new BarProgressReporter() : new LineProgressReporter();
