import { Injectable, Logger } from '@nestjs/common';
import { withTimeout } from '@app/core';

/** A single upload (signed PUT or form POST) the local driver has received, verified (size, checksum) and stored. */
export interface LocalUploadStored {
  bucket: string;
  key: string;
  size: number;
  etag: string;
}

export type LocalUploadListener = (upload: LocalUploadStored) => Promise<void>;

/** How long a listener may hold the upload's answer; past it the upload answers anyway (the listener goes on). */
export const LOCAL_UPLOAD_LISTENER_TIMEOUT_MS = 5000;

/**
 * The local driver's own storage events: the service receives the bytes, so a stored upload is the event. Modules
 * above storage (the storage-events lib) register a listener; storage knows nothing about assets. Listeners run
 * before the upload is answered (so a client that gets 200 finds the effect), bounded by a timeout; a listener that
 * fails is logged and never fails the upload (its bytes are stored; the reconciliation sweep catches up).
 */
@Injectable()
export class LocalUploadHooks {
  private readonly logger = new Logger('Storage');
  private readonly listeners: LocalUploadListener[] = [];

  onUploadStored(listener: LocalUploadListener): void {
    this.listeners.push(listener);
  }

  async uploadStored(upload: LocalUploadStored): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await withTimeout(listener(upload), LOCAL_UPLOAD_LISTENER_TIMEOUT_MS, 'upload-stored listener');
      } catch (e) {
        this.logger.warn({ key: upload.key }, `upload-stored listener failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
