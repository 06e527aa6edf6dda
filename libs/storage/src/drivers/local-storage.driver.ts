import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  AdoptFileParams,
  ByteRange,
  CopyCapableStorage,
  FileAdoptingStorage,
  ListableStorage,
  ListedObject,
  LocalFileStorage,
  ManagedStorage,
  MultipartCapableStorage,
  MultipartUploadRef,
  ObjectInfo,
  PresignedPost,
  PresignedPut,
  PresignGetParams,
  PresignPostParams,
  PresignPutParams,
  PutObjectParams,
  StorageClassName,
  StorageDriver,
  StoredPart,
  TieredStorage,
  UsedUploadMarkerStorage,
  CompleteMultipartParams,
  CreateMultipartParams,
  MultipartUploadId,
  PresignUploadPartParams,
  UploadPartParams,
} from '../storage-driver';
import { sweepAbandoned } from './local/file-ops';
import { LocalLayout } from './local/local-layout';
import { LocalMultipart, PartChecks } from './local/local-multipart';
import { LocalObjectStore, StoreLimits } from './local/local-object-store';
import { LocalUploadMarkers } from './local/local-upload-markers';
import type { HeldClaim } from './local/claim-files';
import { DEFAULT_UPLOAD_LIMITS, LocalUploadClaims, UploadLimits, UploadTarget } from './local/local-upload-claims';
import { LOCAL_URL_PREFIX, LocalUrlSigner, SignedPostPolicy } from './local/local-url-signer';

export { LocalRequestError } from './local/local-request.error';
export { LOCAL_URL_PREFIX } from './local/local-url-signer';
export type { SignedPostPolicy, SignedPutGrant } from './local/local-url-signer';
export type { UploadLimits, UploadTarget } from './local/local-upload-claims';
export type { PartChecks } from './local/local-multipart';

export interface LocalStorageOptions {
  /** Directory that holds every bucket; created when missing. */
  root: string;
  bucket: string;
  /** Public base URL of the HTTP handler serving signed URLs (e.g. http://localhost:3000). */
  baseUrl: string;
  /** HMAC key for signed URLs (at least 32 characters). */
  signingSecret: string;
  /**
   * Path under `baseUrl` where this driver's handler is mounted (default LOCAL_URL_PREFIX). Each local region
   * of a multi-region deployment has its own, so one service can serve several local roots.
   */
  urlPrefix?: string;
  /** How bodies sent through signed upload URLs are bounded (defaults: DEFAULT_UPLOAD_LIMITS). */
  uploadLimits?: Partial<UploadLimits>;
}

/** A file in .tmp unwritten this long was left by a process that died mid-write (see sweepAbandoned). */
const TMP_ABANDONED_MS = 60 * 60 * 1000;
/**
 * The embedded driver: objects are files under `<root>/<bucket>/<key>`, with a sidecar
 * `<root>/.meta/<bucket>/<key>.json` (type, size, SHA-256). Signed URLs point at this service
 * (see local-object.http-handler.ts) and are HMAC-SHA256 over everything they allow.
 *
 * The work is done by collaborators, one concern each: LocalLayout (where files go), LocalObjectStore (object I/O,
 * listing, tiers), LocalUploadMarkers (used upload keys), LocalUrlSigner (signed URLs and policies) and
 * LocalMultipart (multipart uploads on disk).
 */
export class LocalStorageDriver
  implements
    StorageDriver,
    CopyCapableStorage,
    ListableStorage,
    TieredStorage,
    MultipartCapableStorage,
    LocalFileStorage,
    FileAdoptingStorage,
    UsedUploadMarkerStorage,
    ManagedStorage
{
  readonly kind = 'local' as const;
  readonly bucket: string;
  readonly root: string;
  /** URLs are `<baseUrl><urlPrefix>/<bucket>/<key>?…`. */
  readonly urlPrefix: string;
  private readonly layout: LocalLayout;
  private readonly objects: LocalObjectStore;
  private readonly markers: LocalUploadMarkers;
  private readonly claims: LocalUploadClaims;
  private readonly signer: LocalUrlSigner;
  private readonly multipart: LocalMultipart;

  constructor(options: LocalStorageOptions) {
    if (options.signingSecret.length < 32) throw new Error('signing secret must be at least 32 characters');
    this.root = path.resolve(options.root);
    this.bucket = options.bucket;
    this.urlPrefix = (options.urlPrefix ?? LOCAL_URL_PREFIX).replace(/\/+$/, '');
    this.layout = new LocalLayout(this.root, this.bucket);
    this.objects = new LocalObjectStore(this.layout);
    this.markers = new LocalUploadMarkers(this.layout);
    this.claims = new LocalUploadClaims(this.layout, { ...DEFAULT_UPLOAD_LIMITS, ...definedOnly(options.uploadLimits ?? {}) });
    this.signer = new LocalUrlSigner(this.bucket, options.baseUrl.replace(/\/+$/, ''), this.urlPrefix, options.signingSecret);
    this.multipart = new LocalMultipart(this.layout, this.objects, this.signer);
  }

  async init(): Promise<void> {
    await mkdir(this.layout.bucketDir(), { recursive: true });
    await mkdir(this.layout.metaDir(), { recursive: true });
    await mkdir(this.layout.tmpDir(), { recursive: true });
    await mkdir(this.layout.multipartRoot(), { recursive: true });
    await mkdir(this.layout.claimsDir(), { recursive: true });
    // What a process that died mid-write left in .tmp (another live process's file is touched far more recently).
    await sweepAbandoned(this.layout.tmpDir(), TMP_ABANDONED_MS);
  }

  /** Nothing to release: every handle is closed by the operation that opened it. */
  destroy(): void {}

  describeLocation(): string {
    return `under ${this.root}`;
  }

  objectPath(key: string): string {
    return this.layout.objectPath(key);
  }

  /** Where the object lives in a colder class (TieredStorage). */
  tierPath(key: string, storageClass: StorageClassName): string {
    return this.layout.tierPath(key, storageClass);
  }

  // ---- StorageDriver ----------------------------------------------------------------------------------

  head(key: string): Promise<ObjectInfo | null> {
    return this.objects.head(key);
  }

  /** The returned stream holds an open file: read it to the end or destroy it. */
  read(key: string, range?: ByteRange): Promise<Readable> {
    return this.objects.read(key, range);
  }

  async write({ key, body, contentType, contentLength, durable }: PutObjectParams): Promise<void> {
    const r = await this.objects.store(key, body, contentType, { exactLength: contentLength, durable });
    if (contentLength !== undefined && r.size !== contentLength) throw new Error(`expected ${contentLength} bytes, got ${r.size}`);
  }

  adoptionPath(): Promise<string> {
    return this.objects.adoptionPath();
  }

  adoptFile({ key, file, contentType, contentLength, durable, noColdCopies }: AdoptFileParams): Promise<{ size: number; sha256: string }> {
    return this.objects.adopt(key, file, contentType, { exactLength: contentLength, durable, noColdCopies });
  }

  copy({ fromKey, toKey, sha256 }: { fromKey: string; toKey: string; sha256?: string }): Promise<void> {
    return this.objects.copy(fromKey, toKey, sha256);
  }

  /** An upload key leaves a used-key marker (see LocalUploadMarkers), so its single-use URL stays used up. */
  async delete(key: string): Promise<void> {
    await this.markers.mark(key);
    await this.objects.delete(key);
  }

  async presignPut(params: PresignPutParams): Promise<PresignedPut> {
    return this.signer.presignPut(params);
  }

  async presignPost(params: PresignPostParams): Promise<PresignedPost> {
    return this.signer.presignPost(params);
  }

  async presignGet(params: PresignGetParams): Promise<string> {
    return this.signer.presignGet(params);
  }

  checkHealth(): Promise<void> {
    return this.objects.checkHealth();
  }

  // ---- ListableStorage, TieredStorage, LocalFileStorage, UsedUploadMarkerStorage ----------------------

  listObjects(params: { prefix: string; pageSize?: number }): AsyncIterable<ListedObject[]> {
    return this.objects.listObjects(params);
  }

  setStorageClass(params: { key: string; storageClass: StorageClassName }): Promise<void> {
    return this.objects.setStorageClass(params);
  }

  localFilePath({ key }: { key: string }): Promise<string | null> {
    return this.objects.localFilePath(key);
  }

  purgeConsumedMarkers(params: { olderThan: Date; dryRun?: boolean }): Promise<string[]> {
    return this.markers.purge(params);
  }

  /** Whether an object was stored under `key` once and removed since (upload keys only). */
  wasConsumed(key: string): Promise<boolean> {
    return this.markers.wasConsumed(key);
  }

  // ---- what the signed-URL handler needs ----------------------------------------------------------------

  /** Checks a signed URL's signature (constant-time) and expiry for `method`; returns its parameters. */
  verifyUrl(key: string, query: URLSearchParams, method: 'GET' | 'PUT'): Record<string, string | undefined> {
    return this.signer.verifyUrl(key, query, method);
  }

  verifyPostPolicy(encoded: string, signature: string): SignedPostPolicy {
    return this.signer.verifyPostPolicy(encoded, signature);
  }

  /** How bodies sent through signed upload URLs are bounded. */
  get uploadLimits(): UploadLimits {
    return this.claims.limits;
  }

  /** The deadline (epoch ms) of a body sent through an upload URL that expires at `expiresAtSeconds`. */
  uploadDeadline(expiresAtSeconds: number): number {
    return this.claims.deadlineOf(expiresAtSeconds);
  }

  /**
   * Claims an upload target before a byte of its body is read: one body at a time per key or part (409 otherwise),
   * a bounded number per owner (429). Release the claim when the body has ended, stored or not.
   */
  claimUpload(target: UploadTarget): Promise<HeldClaim> {
    return this.claims.begin(target);
  }

  /** Streams `body` in under `key`, enforcing `limits`; nothing is left behind when a limit is broken. */
  store(
    key: string,
    body: Readable,
    contentType: string,
    limits: StoreLimits = {},
  ): Promise<{ size: number; sha256: string; etag: string }> {
    return this.objects.store(key, body, contentType, limits);
  }

  /**
   * Streams one part of a multipart upload in (exact size), replacing any part stored under the same number; `checks`:
   * the digests its client sent and which ETag it gets (default: S3's MD5 ETag).
   */
  storePart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable,
    exactLength: number,
    deadlineMs?: number,
    checks?: PartChecks,
  ): Promise<{ etag: string; size: number }> {
    return this.multipart.storePart(key, uploadId, partNumber, body, exactLength, deadlineMs, checks);
  }

  // ---- MultipartCapableStorage ------------------------------------------------------------------------

  createMultipartUpload(params: CreateMultipartParams): Promise<{ uploadId: string }> {
    return this.multipart.createMultipartUpload(params);
  }

  presignUploadPart(params: PresignUploadPartParams): Promise<PresignedPut> {
    return this.multipart.presignUploadPart(params);
  }

  uploadPart(params: UploadPartParams): Promise<{ etag: string }> {
    return this.multipart.uploadPart(params);
  }

  listParts(params: MultipartUploadId): Promise<StoredPart[]> {
    return this.multipart.listParts(params);
  }

  completeMultipartUpload(params: CompleteMultipartParams): Promise<ObjectInfo> {
    return this.multipart.completeMultipartUpload(params);
  }

  abortMultipartUpload(params: MultipartUploadId): Promise<void> {
    return this.multipart.abortMultipartUpload(params);
  }

  listMultipartUploads(params: { prefix?: string } = {}): Promise<MultipartUploadRef[]> {
    return this.multipart.listMultipartUploads(params);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
