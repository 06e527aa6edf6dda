import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MeteredStream, TransferProgress } from '../transfer';

/** What uploadFile reads: a file (re-readable: hashed first, so the checksum is declared) or a one-shot stream. */
export interface UploadSource {
  readonly size: number;
  readonly filename: string;
  /** Whether open() can be called again (a retry of the PUT) and by byte range (multipart parts, resume). */
  readonly reopenable: boolean;
  /** The bytes, or those from `start` to `end` inclusive (re-readable sources only). */
  open(range?: { start: number; end: number }): Readable;
  /** A file: its absolute path and modification time (the resume record's key; a change means different bytes). */
  readonly file?: { path: string; mtimeMs: number };
  /** A file: whether it still has the size and modification time it had when opened. */
  unchanged?(): Promise<boolean>;
}

export async function fileSource(file: string): Promise<UploadSource> {
  const info = await stat(file);
  if (!info.isFile()) throw new Error(`${file} is not a regular file`);
  const abs = path.resolve(file);
  return {
    size: info.size,
    filename: path.basename(file),
    reopenable: true,
    file: { path: abs, mtimeMs: info.mtimeMs },
    unchanged: async () => {
      const now = await stat(abs).catch(() => null);
      return !!now && now.size === info.size && now.mtimeMs === info.mtimeMs;
    },
    // highWaterMark 1 MiB: fewer, larger writes on fast links.
    open: (range) => createReadStream(file, { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) }),
  };
}

export function streamSource(stream: Readable, size: number, filename: string): UploadSource {
  let used = false;
  return {
    size,
    filename,
    reopenable: false,
    open: () => {
      if (used) throw new Error('a stream source can be read once');
      used = true;
      return stream;
    },
  };
}

/** SHA-256 of a re-readable source, streamed (never buffered whole). */
export async function hashSource(source: UploadSource, onProgress?: (p: TransferProgress) => void, signal?: AbortSignal): Promise<string> {
  const meter = new MeteredStream((loaded) => onProgress?.({ phase: 'hash', loaded, total: source.size }));
  await pipeline(
    source.open(),
    meter,
    async function drain(chunks: AsyncIterable<Buffer>) {
      for await (const _ of chunks) void _;
    },
    { signal },
  );
  return meter.digest();
}

const TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.heic': 'image/heic',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.bmp': 'image/bmp',
  '.svg': 'image/svg+xml',
  '.mp4': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.ogg': 'audio/ogg',
  '.flac': 'audio/flac',
  '.m4a': 'audio/mp4',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.html': 'text/html',
  '.md': 'text/markdown',
};

/** A media type from the file name's extension; application/octet-stream when unknown. */
export function guessContentType(filename: string): string {
  return TYPES[path.extname(filename).toLowerCase()] ?? 'application/octet-stream';
}
