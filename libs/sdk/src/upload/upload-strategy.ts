import type { Client } from 'openapi-fetch';
import type { components, paths } from '../generated/openapi';
import { MediaApiError } from '../media-api-error';
import type { RetryOptions } from '../retry';
import type { TransferProgress } from '../transfer';
import type { UploadSource } from './upload-source';

/** The answer of POST /media/upload-url (a multipart grant adds `uploadId`, `partSize`, `parts`, …). */
export type UploadGrant = components['schemas']['UploadUrlDto'] & Record<string, unknown>;

export interface UploadContext {
  grant: UploadGrant;
  source: UploadSource;
  onProgress?: (p: TransferProgress) => void;
  signal?: AbortSignal;
  retry: Required<RetryOptions>;
  idleTimeoutMs: number;
  /** The typed API client (retrying, authorised), for strategies that need more than the grant (e.g. signing more parts). */
  api: Client<paths>;
  /** SHA-256 (hex) of a re-readable source, computed before the upload (what a multipart upload reports as sent). */
  declaredSha256?: string;
  /** Multipart: parts PUT at once (default 4). */
  partConcurrency?: number;
  /** Multipart resume: the parts storage already holds (from GET /media/{id}/parts); only the others are sent. */
  storedParts?: ReadonlyArray<{ partNumber: number; etag: string; size: number }>;
  /** Bound on the upload rate in bytes per second, across all parts of this upload. */
  maxBytesPerSecond?: number;
}

/** What a strategy hands back: the SHA-256 of the bytes it sent, and the body for POST /media/{id}/complete. */
export interface UploadOutcome {
  sha256: string;
  completeBody?: Record<string, unknown>;
  /** Multipart: parts in all, PUT by this call, and already stored before it (resume). */
  parts?: { total: number; sent: number; resumed: number };
}

/**
 * One way of moving the bytes to storage, chosen by the shape of the grant the service answered: the single PUT
 * (SinglePutStrategy) or multipart (MultipartStrategy: `uploadId` + part URLs, PUT each part, `POST /media/{id}/parts`
 * for more URLs, complete with `{ parts: [{ partNumber, etag }] }`).
 */
export interface UploadStrategy {
  readonly kind: string;
  accepts(grant: UploadGrant): boolean;
  upload(ctx: UploadContext): Promise<UploadOutcome>;
}

export function chooseStrategy(strategies: readonly UploadStrategy[], grant: UploadGrant): UploadStrategy {
  const s = strategies.find((x) => x.accepts(grant));
  if (!s) {
    throw MediaApiError.sdk(
      'UnsupportedUpload',
      `This SDK cannot perform the upload the service asked for (method ${grant.method}${grant.uploadId ? ', multipart' : ''}); update the SDK`,
    );
  }
  return s;
}
