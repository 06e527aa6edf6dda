import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ObjectKeyLayout } from '../../object-key-layout';
import { StorageClassName, StorageNotFoundError } from '../../storage-driver';
import { LocalRequestError } from './local-request.error';

/** Colder classes, each a directory tree of its own (`<root>/.tiers/<class>/<bucket>/<key>`); reads look there too. */
export const COLD_CLASSES: StorageClassName[] = ['STANDARD_IA', 'GLACIER_IR'];

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The file holding an object now, with what stat said of it. */
export interface LocatedFile {
  file: string;
  storageClass: StorageClassName;
  size: number;
  mtime: Date;
}

/**
 * Where the local driver keeps everything under its root (the one place that knows the layout):
 *   <root>/<bucket>/<key>                          the object (STANDARD)
 *   <root>/.tiers/<class>/<bucket>/<key>           the object in a colder class
 *   <root>/.meta/<bucket>/<key>.json               its sidecar (type, size, SHA-256); `.consumed` beside it marks a used upload key
 *   <root>/.multipart/<bucket>/<uploadId>/…        a multipart upload's manifest and parts
 *   <root>/.tmp/                                   files being written, renamed into place once complete
 *   <root>/.uploading/<bucket>/…                   claims of the upload bodies streaming now (see LocalUploadClaims)
 * Keys are checked before any path is built from them: nothing outside the bucket's trees can be named.
 */
export class LocalLayout {
  constructor(
    readonly root: string,
    readonly bucket: string,
  ) {}

  static isUploadId(uploadId: string): boolean {
    return UPLOAD_ID.test(uploadId);
  }

  objectPath(key: string): string {
    if (!ObjectKeyLayout.isSafe(key)) throw new LocalRequestError(400, 'InvalidKey', 'Object key is not valid');
    const base = this.bucketDir();
    const p = path.resolve(base, key);
    if (!p.startsWith(base + path.sep)) throw new LocalRequestError(400, 'InvalidKey', 'Object key is not valid');
    return p;
  }

  /** Where the object lives in a colder class (TieredStorage). */
  tierPath(key: string, storageClass: StorageClassName): string {
    this.objectPath(key);
    return path.join(this.root, '.tiers', storageClass, this.bucket, key);
  }

  /** Every tree an object may be in, the standard one first, with the class each holds. */
  trees(): [string, StorageClassName][] {
    return [
      [this.bucketDir(), 'STANDARD'],
      ...COLD_CLASSES.map((c) => [path.join(this.root, '.tiers', c, this.bucket), c] as [string, StorageClassName]),
    ];
  }

  bucketDir(): string {
    return path.join(this.root, this.bucket);
  }

  metaDir(): string {
    return path.join(this.root, '.meta', this.bucket);
  }

  metaPath(key: string): string {
    this.objectPath(key);
    return path.join(this.metaDir(), `${key}.json`);
  }

  /** Left when an upload key's object is removed (see LocalUploadMarkers). */
  consumedMarker(key: string): string {
    return `${this.metaPath(key)}.consumed`;
  }

  /** Claims of upload bodies being received (LocalUploadClaims). */
  claimsDir(): string {
    return path.join(this.root, '.uploading', this.bucket);
  }

  tmpDir(): string {
    return path.join(this.root, '.tmp');
  }

  multipartRoot(): string {
    return path.join(this.root, '.multipart', this.bucket);
  }

  /** The staging directory of one upload (ids are UUIDs this driver issued; anything else is refused). */
  uploadDir(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new StorageNotFoundError(`upload ${uploadId}`);
    return path.join(this.multipartRoot(), uploadId);
  }

  /** The file holding the object now (the standard tree first, then the colder ones), or null. */
  async locateFile(key: string): Promise<LocatedFile | null> {
    const candidates: [string, StorageClassName][] = [
      [this.objectPath(key), 'STANDARD'],
      ...COLD_CLASSES.map((c) => [this.tierPath(key, c), c] as [string, StorageClassName]),
    ];
    for (const [file, storageClass] of candidates) {
      try {
        const st = await stat(file);
        return { file, storageClass, size: st.size, mtime: st.mtime };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e?.code !== 'ENOENT' && e?.code !== 'ENOTDIR') throw e;
      }
    }
    return null;
  }
}
