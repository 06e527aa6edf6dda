import { execFile, type ExecFileException } from 'node:child_process';
import { stat } from 'node:fs/promises';

/** Containers ffmpeg may open (its demuxer names): nothing that can reference other files or URLs (no HLS, concat…). */
const FORMAT_WHITELIST = 'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg,avi,asf,mpegts,flv';

/** ffmpeg produced no frame at the asked offset (past the end of the video, or no video stream). */
export class NoFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoFrameError';
  }
}

/** ffmpeg ran out of time (killed). */
export class FrameTimeoutError extends Error {
  constructor(ms: number) {
    super(`ffmpeg did not extract the frame within ${ms} ms`);
    this.name = 'RenderTimeoutError';
  }
}

/**
 * Writes one frame of a video, `seconds` in, to `outPng` with ffmpeg (rotation metadata applied by ffmpeg's
 * autorotate). `source`: a local file, or an http(s) URL (a short-lived signed GET, read with range requests).
 * Bounded by `timeoutMs` (SIGKILL); a frame larger than `maxPixels` is never written (scaled down inside ffmpeg).
 */
export async function extractVideoFrame(opts: {
  ffmpeg: string;
  source: { file: string } | { url: string };
  seconds: number;
  outPng: string;
  timeoutMs: number;
  maxPixels: number;
}): Promise<void> {
  const input = 'file' in opts.source ? `file:${opts.source.file}` : opts.source.url;
  const protocols = 'file' in opts.source ? 'file' : 'http,https,tcp,tls';
  // Keep at most maxPixels: scale both sides by sqrt(max / (w*h)) when the frame is larger.
  const scale = `scale='if(gt(iw*ih,${opts.maxPixels}),trunc(iw*sqrt(${opts.maxPixels}/(iw*ih))/2)*2,iw)':-2`;
  const args = [
    '-nostdin',
    '-v',
    'error',
    '-protocol_whitelist',
    protocols,
    '-format_whitelist',
    FORMAT_WHITELIST,
    '-ss',
    String(opts.seconds),
    '-i',
    input,
    '-map',
    '0:v:0',
    '-frames:v',
    '1',
    '-vf',
    scale,
    '-an',
    '-sn',
    '-dn',
    '-y',
    '-f',
    'image2',
    '-c:v',
    'png',
    `file:${opts.outPng}`,
  ];
  await new Promise<void>((resolve, reject) => {
    execFile(
      opts.ffmpeg,
      args,
      { timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024 },
      (err: ExecFileException | null, _out, errOut) => {
        if (!err) return resolve();
        if (err.killed) return reject(new FrameTimeoutError(opts.timeoutMs));
        if (err.code === 'ENOENT') return reject(new Error(`ffmpeg not found (FFMPEG_PATH=${opts.ffmpeg})`));
        reject(
          new NoFrameError(
            `ffmpeg could not read a frame: ${String(errOut)
              .replace(/https?:\/\/\S+/g, '<signed url>')
              .slice(0, 300)}`,
          ),
        );
      },
    );
  });
  const written = await stat(opts.outPng).catch(() => null);
  if (!written?.size) throw new NoFrameError(`the video has no frame at ${opts.seconds} s`);
}
