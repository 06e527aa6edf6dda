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
}

/** What a strategy hands back: the SHA-256 of the bytes it sent, and the body for POST /media/{id}/complete. */
export interface UploadOutcome {
  sha256: string;
  completeBody?: Record<string, unknown>;
}

/**
 * One way of moving the bytes to storage, chosen by the shape of the grant the service answered. The single
 * PUT is here; multipart (`uploadId` + part URLs: PUT each part, `POST /media/{id}/parts` for more URLs,
 * `GET /media/{id}/parts` to resume, complete with `{ parts: [{ partNumber, etag }] }`) slots in as another
 * strategy in UPLOAD_STRATEGIES.
 */
export interface UploadStrategy {
  readonly kind: string;
  accepts(grant: UploadGrant): boolean;
  upload(ctx: UploadContext): Promise<UploadOutcome>;
}

export function chooseStrategy(strategies: readonly UploadStrategy[], grant: UploadGrant): UploadStrategy {
  const s = strategies.find((x) => x.accepts(grant));
  if (!s) {
    throw MediaApiError.sdk('UnsupportedUpload', `This SDK cannot perform the upload the service asked for (method ${grant.method}${grant.uploadId ? ', multipart' : ''}); update the SDK`);
  }
  return s;
}
