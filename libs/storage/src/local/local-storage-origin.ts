import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendLocalProblem } from './local-problem';

export interface StorageOriginSettings {
  /** PUBLIC_BASE_URL: the API's and the upload page's base URL. */
  publicBaseUrl: string;
  /** PUBLIC_STORAGE_URL in force: the base of the local driver's signed URLs. */
  publicStorageUrl: string;
}

/**
 * Runs before the local storage handler; answers the request itself (returning true) when it must not reach it.
 * `host` is the host the request was addressed to (the Host header, or X-Forwarded-Host from a trusted proxy).
 */
export type StorageOriginGate = (req: IncomingMessage, res: ServerResponse, host: string | undefined) => boolean;

/**
 * The local storage routes on their own origin (PUBLIC_STORAGE_URL another origin than PUBLIC_BASE_URL): they answer
 * only requests addressed to the storage host; any other gets 421 (the signature does not cover the host, so a signed
 * URL with its host swapped would otherwise serve the bytes on the API's origin after all). CORS is the service's
 * (API_CORS_ORIGINS, installCors), the same on either origin.
 * Null when storage is served on the service's own origin: the routes then behave exactly as without this setting.
 */
export function storageOriginGate(settings: StorageOriginSettings): StorageOriginGate | null {
  const storage = new URL(settings.publicStorageUrl);
  if (storage.origin === new URL(settings.publicBaseUrl).origin) return null;

  const addressedHere = (host: string | undefined): boolean => {
    if (!host) return false;
    try {
      return new URL(`${storage.protocol}//${host}`).host === storage.host;
    } catch {
      return false;
    }
  };

  return (req, res, host) => {
    if (addressedHere(host)) return false;
    sendLocalProblem(res, 421, 'MisdirectedRequest', `Stored objects are served on ${storage.origin} only`, req);
    return true;
  };
}
