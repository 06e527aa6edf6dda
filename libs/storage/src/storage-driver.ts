import type { Readable } from 'node:stream';

/** What storage knows about one object. */
export interface ObjectInfo {
  key: string;
  size: number;
  contentType?: string;
  /** Strong validator for the stored bytes, quoted as in an HTTP ETag header. */
  etag?: string;
  lastModified?: Date;
  /** Storage class, when the store reports one other than STANDARD (see TieredStorage). */
  storageClass?: string;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface PresignPutParams {
  key: string;
  contentType: string;
  /** Exact size the upload must have. */
  contentLength: number;
  /** Lower-case hex SHA-256 the body must have, when the client declared one. */
  checksumSha256?: string;
  expiresInSeconds: number;
}

/**
 * A signed single-request upload: send `method` to `url` with exactly `headers` (what the client must set itself;
 * never Content-Length, which is signed or checked but set by the client's HTTP stack from the body's exact size).
 */
export interface PresignedPut {
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
}

export interface PresignPostParams {
  key: string;
  contentType: string;
  /** Allowed body size range, inclusive (the policy's content-length-range). */
  minBytes: number;
  maxBytes: number;
  expiresInSeconds: number;
}

/** A signed browser form upload: POST multipart/form-data to `url` with `fields`, then the `file` field last. */
export interface PresignedPost {
  url: string;
  method: 'POST';
  fields: Record<string, string>;
}

export interface PresignGetParams {
  key: string;
  expiresInSeconds: number;
  /** Sent back as Content-Disposition: attachment; filename=... */
  downloadFilename?: string;
  /** Sent back as Content-Type. */
  contentType?: string;
  /**
   * Lower-case hex SHA-256 of the object. The URL is then content-addressed: it names exactly these bytes,
   * so its response is cacheable as `immutable` (the local driver also refuses to serve other bytes).
   */
  contentSha256?: string;
  /**
   * Who may cache the response: `private` (default; an access-controlled read, browser cache only) or
   * `public` (anyone may read the asset, so shared caches and CDNs may keep it).
   */
  cacheScope?: 'private' | 'public';
  /**
   * The representation's Last-Modified, when the caller knows better than the store (an asset's own date rather
   * than the date of bytes it shares with others). The local driver signs and serves it; S3 presigned URLs cannot
   * override Last-Modified (the object's own date is served; see the README's dedup section).
   */
  lastModified?: Date;

  /**
   * How long caches may keep the response (Cache-Control max-age), when it should outlive the URL: only with
   * `contentSha256` (the bytes under a content-addressed URL never change). Default: until the URL expires.
   */
  cacheMaxAgeSeconds?: number;
}

export interface PutObjectParams {
  key: string;
  body: Readable;
  contentType: string;
  /** When known; drivers that need it (S3 PUT) refuse a body of another size. */
  contentLength?: number;
  /**
   * false for an object that can be made again from another (a derivative): a driver may skip flushing it to disk
   * before it appears (the local driver's fsync). A reader never sees it partial; after a power loss it may be gone
   * or empty. Default true.
   */
  durable?: boolean;
}

/**
 * The storage seam. A driver stores bytes under keys in one bucket; it knows nothing of assets.
 * Every method has a bounded running time (drivers apply their own request timeouts) and is safe to retry.
 */
export interface StorageDriver {
  readonly kind: 'local' | 's3';
  readonly bucket: string;

  /** Object info, or null when no object is stored under `key`. */
  head(key: string): Promise<ObjectInfo | null>;
  /** Streams the object (or the inclusive `range` of it). Rejects with StorageNotFoundError when absent. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Stores a stream (server-side writes: derived media, copies). Streams; never buffers the whole body. */
  write(params: PutObjectParams): Promise<void>;
  /** Removes the object; removing an absent object succeeds. */
  delete(key: string): Promise<void>;
  /** Signed PUT bound to the exact size and type (and checksum, when given). */
  presignPut(params: PresignPutParams): Promise<PresignedPut>;
  /** Signed form POST with a content-length-range policy. */
  presignPost(params: PresignPostParams): Promise<PresignedPost>;
  /** Signed, short-lived GET that serves Range, ETag and the given Content-Disposition. */
  presignGet(params: PresignGetParams): Promise<string>;
  /** Throws when the store cannot be reached or the bucket is missing; bounded by a timeout. */
  checkHealth(): Promise<void>;
}

/**
 * Optional capability: a copy inside the store that does not stream the bytes through this process
 * (S3 CopyObject, a file copy on disk). Callers fall back to read + write when a driver lacks it.
 */
export interface CopyCapableStorage {
  /**
   * Copies `fromKey` to `toKey` (replacing it); rejects with StorageNotFoundError when `fromKey` is absent. `sha256`:
   * the SHA-256 the caller verified of these bytes (processing), which a store keeping checksums beside its objects
   * (local) records for the copy (an object assembled from parts has none of its own).
   */
  copy(params: { fromKey: string; toKey: string; sha256?: string }): Promise<void>;
}

export function canCopy(driver: StorageDriver): driver is StorageDriver & CopyCapableStorage {
  return typeof (driver as Partial<CopyCapableStorage>).copy === 'function';
}

/** One part already stored in a multipart upload. */
export interface StoredPart {
  partNumber: number;
  /** Quoted, as S3 returns it and as `completeMultipartUpload` expects it back. */
  etag: string;
  size: number;
  lastModified?: Date;
}

/** A multipart upload that was started and neither completed nor aborted. */
export interface MultipartUploadRef {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** Part numbers S3 allows (1..10000). */
export const MAX_MULTIPART_PARTS = 10_000;
/** S3's smallest part size (every part but the last). */
export const MIN_S3_PART_SIZE = 5 * 1024 * 1024;

/** A part number outside 1..10000 or an upload id the driver cannot have issued: the request is wrong. */
export function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_MULTIPART_PARTS) {
    throw new RangeError(`partNumber must be an integer 1..${MAX_MULTIPART_PARTS}, got ${partNumber}`);
  }
}

/** Completing with a part that is not stored, or whose ETag differs from the stored one. */
export class InvalidPartError extends Error {
  constructor(
    readonly partNumber: number,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidPartError';
  }
}

/** Names one multipart upload of an object. */
export interface MultipartUploadId {
  key: string;
  uploadId: string;
}

/**
 * Starting a multipart upload. `partSize` and `size`, when the caller knows them (every part but the last has
 * `partSize` bytes, together `size`), let a driver write each part in place at (n−1)×partSize (the local driver);
 * parts of other sizes are then refused. Without them any S3-valid part sizes are accepted.
 */
export interface CreateMultipartParams {
  key: string;
  contentType: string;
  partSize?: number;
  size?: number;
}

/** A signed PUT for one part (1..10000), bound to its exact size. */
export interface PresignUploadPartParams extends MultipartUploadId {
  partNumber: number;
  contentLength: number;
  expiresInSeconds: number;
}

/** A part written by the service itself (streamed). */
export interface UploadPartParams extends MultipartUploadId {
  partNumber: number;
  body: Readable;
  contentLength: number;
}

/** The parts that make the object, ascending part numbers, ETags as the store returned them. */
export interface CompleteMultipartParams extends MultipartUploadId {
  parts: Array<{ partNumber: number; etag: string }>;
}

/**
 * Optional capability: S3-style multipart uploads (create → parts, each PUT straight from the client to a
 * signed URL or written by the service → complete with the part list, or abort). `s3` maps it to S3's
 * multipart API; `local` implements the same contract on disk. Callers test with `canMultipart`.
 */
export interface MultipartCapableStorage {
  /**
   * Starts an upload. `region` (optional) names the storage region it lives in when the driver spreads one bucket
   * over several (RoutedStorageDriver); every later call with the returned `uploadId` goes to that region.
   */
  createMultipartUpload(params: CreateMultipartParams): Promise<{ uploadId: string; region?: string }>;
  /** Signed PUT for one part (1..10000), bound to its exact size. */
  presignUploadPart(params: PresignUploadPartParams): Promise<PresignedPut>;
  /** Server-side part write (streamed). Returns the part's quoted ETag. */
  uploadPart(params: UploadPartParams): Promise<{ etag: string }>;
  /** Parts stored so far, by part number. Rejects with StorageNotFoundError when the upload is unknown. */
  listParts(params: MultipartUploadId): Promise<StoredPart[]>;
  /** Assembles the object from the listed parts (ascending part numbers, ETags as returned). */
  completeMultipartUpload(params: CompleteMultipartParams): Promise<ObjectInfo>;
  /** Drops the upload and its parts; aborting an unknown upload succeeds. */
  abortMultipartUpload(params: MultipartUploadId): Promise<void>;
  /** Uploads started and not finished, under `prefix`. */
  listMultipartUploads(params: { prefix?: string }): Promise<MultipartUploadRef[]>;
}

export function canMultipart(driver: StorageDriver): driver is StorageDriver & MultipartCapableStorage {
  return typeof (driver as Partial<MultipartCapableStorage>).createMultipartUpload === 'function';
}

export class StorageNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`No object stored under ${key}`);
    this.name = 'StorageNotFoundError';
  }
}

/** The store could not be reached or failed; callers answer 503 or retry. */
export class StorageUnavailableError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'StorageUnavailableError';
  }
}

export const STORAGE_DRIVER = Symbol('STORAGE_DRIVER');

/** One object met while listing a store. */
export interface ListedObject {
  key: string;
  size: number;
  lastModified: Date;
  /** The object's storage class, when the store reports one (absent = STANDARD). */
  storageClass?: string;
}

/**
 * Optional capability: walk every object under a prefix, in pages, without holding the whole listing in memory
 * (S3 ListObjectsV2 with continuation tokens; the local driver walks its directory tree lazily). Keys come in
 * the store's order; callers must not rely on it across stores.
 */
export interface ListableStorage {
  listObjects(params: { prefix: string; pageSize?: number }): AsyncIterable<ListedObject[]>;
}

export function canList(driver: StorageDriver): driver is StorageDriver & ListableStorage {
  return typeof (driver as Partial<ListableStorage>).listObjects === 'function';
}

/** Storage classes objects move through as they cool down (S3 names; the local driver maps them to directories). */
export const STORAGE_CLASSES = ['STANDARD', 'STANDARD_IA', 'GLACIER_IR'] as const;
export type StorageClassName = (typeof STORAGE_CLASSES)[number];

/**
 * Optional capability: move an object to another storage class in place (same key; reads keep working).
 * s3: CopyObject onto itself with the new StorageClass; local: the file moves to a per-class directory.
 */
export interface TieredStorage {
  setStorageClass(params: { key: string; storageClass: StorageClassName }): Promise<void>;
}

export function canTier(driver: StorageDriver): driver is StorageDriver & TieredStorage {
  return typeof (driver as Partial<TieredStorage>).setStorageClass === 'function';
}

/**
 * Optional capability: the object's bytes are a plain file on this machine (the local driver). Readers that need a
 * seekable input (ffprobe, which looks for an MP4's index at the end of the file) open the file instead of going
 * through a signed URL. RoutedStorageDriver forwards it to the region that holds the object.
 */
export interface LocalFileStorage {
  /** The file holding the object now (in whichever storage class), or null when no local file holds it. */
  localFilePath(params: { key: string }): Promise<string | null>;
}

export function canGiveLocalFile(driver: StorageDriver): driver is StorageDriver & LocalFileStorage {
  return typeof (driver as Partial<LocalFileStorage>).localFilePath === 'function';
}

/**
 * Optional capability: a file the service writes itself (a rendition libvips encodes to disk) becomes an object
 * without its bytes being copied: the caller writes it at `adoptionPath()` (on the store's own file system), then
 * `adoptFile` hashes it in one read, flushes it (unless `durable` is false) and renames it into place with its
 * sidecar. The local driver; RoutedStorageDriver forwards it when it writes to one local region.
 */
export interface AdoptFileParams {
  key: string;
  file: string;
  contentType: string;
  /** The size the writer reported: a file of any other size is refused (removed, never put in place). */
  contentLength?: number;
  /** As for `write`: false for an object that can be made again (a derivative) — not flushed before it appears. */
  durable?: boolean;
  /**
   * true: the caller knows `key` has no copy in a colder storage class (nothing tiers such keys, e.g. renditions), so
   * none is looked for and removed after the rename.
   */
  noColdCopies?: boolean;
}

export interface FileAdoptingStorage {
  /** A fresh path (nothing there yet) where the caller may write a file for `adoptFile`, or null when this store cannot adopt. */
  adoptionPath(): Promise<string | null>;
  /**
   * Puts the complete, closed file `file` (from `adoptionPath`) at `key` (replacing it) and answers its size and
   * SHA-256. The file is gone from `file` afterwards; on failure it is removed. `durable` as for `write`.
   */
  adoptFile(params: AdoptFileParams): Promise<{ size: number; sha256: string }>;
}

export function canAdoptFiles(driver: StorageDriver): driver is StorageDriver & FileAdoptingStorage {
  const d = driver as Partial<FileAdoptingStorage>;
  return typeof d.adoptionPath === 'function' && typeof d.adoptFile === 'function';
}

/**
 * Optional capability: the store keeps a marker for every single-use upload key whose object was removed, so a URL
 * signed for it stays used up (the local driver; S3 has no such URLs to guard). The markers are purged once every
 * URL that could have been signed for their key has expired. RoutedStorageDriver forwards it to every region.
 */
export interface UsedUploadMarkerStorage {
  /**
   * Removes the markers older than `olderThan` and returns their keys; with `dryRun`, removes nothing and returns
   * the keys it would remove.
   */
  purgeConsumedMarkers(params: { olderThan: Date; dryRun?: boolean }): Promise<string[]>;
}

export function keepsUsedUploadMarkers(driver: StorageDriver): driver is StorageDriver & UsedUploadMarkerStorage {
  return typeof (driver as Partial<UsedUploadMarkerStorage>).purgeConsumedMarkers === 'function';
}

/**
 * The CORS rule a bucket needs so that browsers can send bytes straight to it with our signed URLs. Same shape as
 * S3's CORSRule. The rule's contents are the CORS service's business (cors/bucket-cors.rule.ts); drivers only apply it.
 */
export interface BucketCorsRule {
  AllowedOrigins: string[];
  AllowedMethods: string[];
  AllowedHeaders: string[];
  ExposeHeaders: string[];
  MaxAgeSeconds: number;
}

/** Optional capability: the bucket's CORS configuration can be set through the store's API (S3 PutBucketCors). */
export interface BucketCorsStorage {
  /** Replaces the bucket's CORS configuration with these rules; bounded by the driver's request timeout. */
  putBucketCors(rules: BucketCorsRule[]): Promise<void>;
}

export function canSetBucketCors(driver: StorageDriver): driver is StorageDriver & BucketCorsStorage {
  return typeof (driver as Partial<BucketCorsStorage>).putBucketCors === 'function';
}

/**
 * Optional capability: a store with resources of its own, prepared once at start-up and released once at shutdown
 * (the local driver's directories; the S3 clients' sockets). StorageModule calls these for every region's driver.
 */
export interface ManagedStorage {
  /** Creates what the store needs before the first call (idempotent). */
  init(): Promise<void>;
  /** Releases what the driver holds (sockets); the driver is not used afterwards. */
  destroy(): void;
  /** Where the bytes live, for the start-up log (e.g. `under /var/lib/media`, `on S3`). */
  describeLocation(): string;
}

export function isManagedStorage(driver: StorageDriver): driver is StorageDriver & ManagedStorage {
  const d = driver as Partial<ManagedStorage>;
  return typeof d.init === 'function' && typeof d.destroy === 'function' && typeof d.describeLocation === 'function';
}
