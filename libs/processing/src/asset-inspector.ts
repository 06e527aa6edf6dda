import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import exifr from 'exifr';
import { imageSize } from 'image-size';
import { sniffExecutable } from './content-policy';

/** Bytes kept from the start of the object for type sniffing, EXIF and dimensions. */
export const HEAD_BYTES = 512 * 1024;

export interface StreamFacts {
  sha256: string;
  size: number;
  head: Buffer;
}

/**
 * One pass over the object: SHA-256 and size of everything, plus the first HEAD_BYTES kept for sniffing.
 * Memory stays at HEAD_BYTES plus stream buffers whatever the object's size. `tee` sees every chunk too
 * (the virus scanner): the next chunk is read only once it has taken this one, so the slower side sets the pace.
 */
export async function scanStream(
  body: Readable,
  opts: { signal?: AbortSignal; tee?: (chunk: Buffer) => Promise<void> } = {},
): Promise<StreamFacts> {
  const { signal, tee } = opts;
  const hash = createHash('sha256');
  const headChunks: Buffer[] = [];
  let headLen = 0;
  let size = 0;
  await pipeline(
    body,
    new Writable({
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        if (headLen < HEAD_BYTES) {
          const part = chunk.subarray(0, HEAD_BYTES - headLen);
          headChunks.push(Buffer.from(part));
          headLen += part.length;
        }
        if (tee) tee(chunk).then(() => cb(), cb);
        else cb();
      },
    }),
    { signal },
  );
  return { sha256: hash.digest('hex'), size, head: Buffer.concat(headChunks, headLen) };
}

type FileTypeModule = { fileTypeFromBuffer(b: Uint8Array): Promise<{ mime: string; ext: string } | undefined> };
let fileTypeModule: FileTypeModule | undefined;
function fileType(): FileTypeModule {
  // file-type is ESM-only; Node >= 20.19 loads it with require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  fileTypeModule ??= require('file-type') as FileTypeModule;
  return fileTypeModule;
}

/** The type the bytes say they are (magic numbers), or null when unrecognised. */
export async function detectMimeType(head: Buffer): Promise<string | null> {
  const exe = sniffExecutable(head);
  if (exe) return exe;
  const r = await fileType().fileTypeFromBuffer(head);
  return r?.mime ?? null;
}

const EXIF_FIELDS: Record<string, string> = {
  Make: 'make',
  Model: 'model',
  LensModel: 'lens_model',
  Software: 'software',
  DateTimeOriginal: 'datetime_original',
  CreateDate: 'create_date',
  ExposureTime: 'exposure_time',
  FNumber: 'f_number',
  ISO: 'iso',
  FocalLength: 'focal_length',
  Orientation: 'orientation',
  latitude: 'gps_latitude',
  longitude: 'gps_longitude',
  GPSAltitude: 'gps_altitude',
  Artist: 'artist',
  Copyright: 'copyright',
  ImageDescription: 'description',
};

function stringify(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null;
  if (typeof v === 'string') return v.replace(/\0+$/, '').trim() || null;
  return null;
}

/** EXIF (as `exif:*`) and dimensions (as `media:*`) from the head of an image. Never throws. */
export async function extractImageMetadata(head: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  try {
    const dim = imageSize(head);
    if (dim.width && dim.height) {
      out['media:width'] = String(dim.width);
      out['media:height'] = String(dim.height);
      if (dim.orientation) out['media:orientation'] = String(dim.orientation);
    }
  } catch {
    /* not enough of the header in the head, or an unsupported type */
  }
  try {
    const exif: unknown = await exifr.parse(head, {
      tiff: true,
      exif: true,
      gps: true,
      ifd1: false,
      xmp: false,
      icc: false,
      iptc: false,
      translateValues: false,
    });
    if (exif && typeof exif === 'object') {
      for (const [from, to] of Object.entries(EXIF_FIELDS)) {
        const v = stringify((exif as Record<string, unknown>)[from]);
        if (v !== null) out[`exif:${to}`] = v;
      }
    }
  } catch {
    /* no or broken EXIF: nothing to record */
  }
  return out;
}
