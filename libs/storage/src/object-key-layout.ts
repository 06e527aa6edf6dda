/**
 * The one owner of the object-key layout (nothing else builds keys). Uploaded objects live under
 * `uploads/<owner>/<asset>`; nothing user-controlled (filename) ever reaches a key.
 */
export const ObjectKeyLayout = {
  upload(ownerId: string, assetId: string): string {
    if (!/^\d+$/.test(ownerId)) throw new Error('owner id must be numeric');
    if (!/^[0-9a-f-]{36}$/.test(assetId)) throw new Error('asset id must be a UUID');
    return `uploads/${ownerId}/${assetId}`;
  },
  /** A key is safe when it has no empty, '.' or '..' segment and only [A-Za-z0-9._/-] characters. */
  isSafe(key: string): boolean {
    if (!key || key.length > 1024 || !/^[A-Za-z0-9._/-]+$/.test(key)) return false;
    return key.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
  },
};
