import { createHmac } from 'node:crypto';

/**
 * The one owner of the object-key layout (nothing else builds keys). Uploaded objects live under
 * `uploads/<owner>/<asset>` until processing accepts them and moves them to `objects/` (see `stored`);
 * nothing user-controlled (filename) ever reaches a key.
 */
export const ObjectKeyLayout = {
  upload(ownerId: string, assetId: string): string {
    if (!/^\d+$/.test(ownerId)) throw new Error('owner id must be numeric');
    if (!/^[0-9a-f-]{36}$/.test(assetId)) throw new Error('asset id must be a UUID');
    return `uploads/${ownerId}/${assetId}`;
  },
  /**
   * Where an asset's verified bytes live once processing has accepted them: `objects/<xx>/<name>`, where the name
   * is an HMAC (keyed by `secret`) of the asset. Every asset has its own (identical bytes share one file through a
   * hard link where the store has them); the stored object of some bytes is the key of the asset that first stored
   * them. Opaque: a signed URL for it tells a user neither the owner, nor another asset, nor whether the bytes were
   * shared.
   * Deterministic per asset, so a retried job writes the same key instead of a stray copy, and a stray copy
   * left by a killed job can be found again from the asset id alone.
   */
  stored(assetId: string, secret: string): string {
    if (!/^[0-9a-f-]{36}$/.test(assetId)) throw new Error('asset id must be a UUID');
    const name = createHmac('sha256', `stored-object-key:${secret}`).update(assetId).digest('hex');
    return `objects/${name.slice(0, 2)}/${name}`;
  },
  /** The owner and asset an upload key names (the inverse of `upload`); null for any other key. */
  parseUpload(key: string): { ownerId: string; assetId: string } | null {
    const m = /^uploads\/(\d+)\/([0-9a-f-]{36})$/.exec(key);
    return m ? { ownerId: m[1], assetId: m[2] } : null;
  },
  /** Keys written through single-use upload URLs (see LocalStorageDriver.delete: their URLs stay used up). */
  isUpload(key: string): boolean {
    return key.startsWith('uploads/');
  },
  /** Infected uploads moved out of the readable path (QUARANTINE_ACTION=move); never signed for download. */
  quarantine(assetId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(assetId)) throw new Error('asset id must be a UUID');
    return `quarantine/${assetId}`;
  },
  /** Media derived from an asset (thumbnail, preview), one object per kind. */
  derived(assetId: string, kind: string): string {
    if (!/^[0-9a-f-]{36}$/.test(assetId)) throw new Error('asset id must be a UUID');
    if (!/^[a-z0-9-]{1,32}$/.test(kind)) throw new Error('derivative kind must be [a-z0-9-]');
    return `derived/${assetId}/${kind}.webp`;
  },
  /**
   * A rendition made by `/media/{id}/render`: `renditions/<xx>/<name>`, where the name is the rendition's cache key
   * (64 hex digits, an HMAC over owner, source SHA-256 and parameters: it tells a reader none of them).
   */
  rendition(name: string): string {
    if (!/^[0-9a-f]{64}$/.test(name)) throw new Error('rendition name must be 64 hex digits');
    return `renditions/${name.slice(0, 2)}/${name}`;
  },
  /** A key is safe when it has no empty, '.' or '..' segment and only [A-Za-z0-9._/-] characters. */
  isSafe(key: string): boolean {
    if (!key || key.length > 1024 || !/^[A-Za-z0-9._/-]+$/.test(key)) return false;
    return key.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
  },
};
