import { Api, uploadBytes } from './api';
import { eventually } from './app-process';

/** Uploads `bytes` as `client`, completes it and waits until it is ready; returns the asset id. */
export async function readyAsset(
  client: Api,
  bytes: Buffer | string,
  opts: { filename?: string; mimeType?: string } = {},
): Promise<string> {
  const up = await uploadBytes(client, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), {
    filename: opts.filename ?? 'file.txt',
    mimeType: opts.mimeType ?? 'text/plain',
  });
  if (up.putStatus !== 200) throw new Error(`PUT answered ${up.putStatus}: ${up.putBody}`);
  const done = await client.post(`/media/${up.assetId}/complete`);
  if (done.status !== 202) throw new Error(`complete answered ${done.status}: ${done.text}`);
  await eventually(async () => (await client.get(`/media/${up.assetId}`)).body?.status === 'ready', 20000, 50);
  return up.assetId;
}

/** A uuid that names no asset. */
export const NO_SUCH_ASSET = '00000000-0000-4000-8000-000000000000';

/** The user keys of a metadata map (without what processing writes in the reserved namespaces). */
export function userKeys(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).filter(([k]) => !/^(exif|media|scan):/.test(k)));
}
