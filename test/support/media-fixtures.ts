import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

/** A real JPEG with EXIF (camera make/model) of the given size. */
export function jpegWithExif(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 10 } } })
    .jpeg({ quality: 80 })
    .withExif({ IFD0: { Make: 'TestCam', Model: 'X1000' } })
    .toBuffer();
}

export function png(width = 16, height = 16): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 1 } } })
    .png()
    .toBuffer();
}

/** Bytes that start like a Windows executable ("MZ" + PE stub). */
export function fakeExecutable(): Buffer {
  const b = Buffer.alloc(1024, 0);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}

/** Runs ffmpeg (Debian's) with `args` writing `dir/name`, and returns the file's bytes. */
export function ffmpegFile(dir: string, name: string, args: string[]): Buffer {
  const out = path.join(dir, name);
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args, out], { timeout: 30000 });
  return readFileSync(out);
}

/** An H.264 MP4 of ffmpeg's test pattern (`size` like "320x240", 10 frames/s, `seconds` long), no audio. */
export function h264TestClip(dir: string, name: string, size: string, seconds = 2): Buffer {
  return ffmpegFile(dir, name, [
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${size}:rate=10`,
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
  ]);
}
