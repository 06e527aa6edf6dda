import { execFile, type ExecFileException } from 'node:child_process';
import { Logger } from '@nestjs/common';

/** Containers ffprobe may open (its demuxer names): nothing that can reference other files or URLs (no HLS, concat…). */
const FORMAT_WHITELIST = 'mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg,mp3,wav,flac,aac,avi,asf,mpegts,flv,aiff,caf,amr';

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  sample_rate?: string;
  channels?: number;
  disposition?: { attached_pic?: number };
}
interface FfprobeOutput {
  format?: { format_name?: string; duration?: string; bit_rate?: string };
  streams?: FfprobeStream[];
}

/** `30000/1001` → "29.97"; "0/0" → null. */
function rate(r: string | undefined): string | null {
  if (!r) return null;
  const [n, d] = r.split('/').map(Number);
  if (!Number.isFinite(n) || !Number.isFinite(d) || d === 0 || n === 0) return null;
  return String(Math.round((n / d) * 1000) / 1000);
}

/** ffprobe's JSON → `media:*` metadata (duration, container, codecs, dimensions). Exported for unit tests. */
export function mediaFactsFromFfprobe(out: FfprobeOutput): Record<string, string> {
  const facts: Record<string, string> = {};
  const f = out.format ?? {};
  const duration = Number(f.duration);
  if (Number.isFinite(duration) && duration >= 0) facts['media:duration_seconds'] = String(Math.round(duration * 1000) / 1000);
  if (f.format_name) facts['media:container'] = f.format_name;
  if (f.bit_rate && /^\d+$/.test(f.bit_rate)) facts['media:bit_rate'] = f.bit_rate;
  const streams = out.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  const audio = streams.find((s) => s.codec_type === 'audio');
  if (video?.codec_name) facts['media:video_codec'] = video.codec_name;
  if (video?.width && video?.height) {
    facts['media:width'] = String(video.width);
    facts['media:height'] = String(video.height);
  }
  const fps = rate(video?.avg_frame_rate);
  if (fps) facts['media:frame_rate'] = fps;
  if (audio?.codec_name) facts['media:audio_codec'] = audio.codec_name;
  if (audio?.sample_rate) facts['media:audio_sample_rate'] = audio.sample_rate;
  if (audio?.channels) facts['media:audio_channels'] = String(audio.channels);
  return facts;
}

/**
 * Audio/video facts through ffprobe (Debian's `ffmpeg`). Never throws and never fails an asset: a missing
 * ffprobe is logged once and skipped, a file it cannot read yields no facts.
 */
export class MediaProbe {
  private readonly logger = new Logger('MediaProbe');
  private warnedMissing = false;

  constructor(
    private readonly bin: string,
    private readonly timeoutMs: number,
  ) {}

  /** `source`: a local file path, or an http(s) URL (a short-lived signed GET) for remote stores. */
  async probe(source: { file: string } | { url: string }): Promise<Record<string, string>> {
    const input = 'file' in source ? `file:${source.file}` : source.url;
    const protocols = 'file' in source ? 'file' : 'http,https,tcp,tls';
    const args = [
      '-v',
      'error',
      '-print_format',
      'json',
      '-show_format',
      '-show_streams',
      '-protocol_whitelist',
      protocols,
      '-format_whitelist',
      FORMAT_WHITELIST,
      input,
    ];
    try {
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(this.bin, args, { timeout: this.timeoutMs, maxBuffer: 4 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, out, errOut) => {
          if (err) reject(Object.assign(err as Error, { stderr: String(errOut).slice(0, 500) }));
          else resolve(String(out));
        });
      });
      return mediaFactsFromFfprobe(JSON.parse(stdout) as FfprobeOutput);
    } catch (err) {
      const e = err as ExecFileException & { stderr?: string };
      if (e?.code === 'ENOENT') {
        if (!this.warnedMissing) {
          this.logger.warn(`ffprobe not found (FFPROBE_PATH=${this.bin}): audio/video duration, codecs and dimensions are skipped`);
          this.warnedMissing = true;
        }
      } else {
        this.logger.warn(
          `ffprobe could not read the media: ${e?.killed ? `timed out after ${this.timeoutMs} ms` : String(e?.stderr || e?.message).replace(/https?:\/\/\S+/g, '<signed url>')}`,
        );
      }
      return {};
    }
  }
}
