/**
 * Origins of the apps the e2e tests started (startApp): answers from these are checked against openapi.json by the
 * fetch wrapper (contract-setup.ts). Kept on globalThis so that the setup file and the test's modules share it.
 */
const KEY = Symbol.for('media-storage.e2e.contract-origins');
type Holder = { [KEY]?: Set<string> };

function origins(): Set<string> {
  const g = globalThis as Holder;
  return (g[KEY] ??= new Set<string>());
}

export const watchOrigin = (baseUrl: string) => void origins().add(new URL(baseUrl).origin);
export const unwatchOrigin = (baseUrl: string) => void origins().delete(new URL(baseUrl).origin);
export const isWatchedOrigin = (origin: string) => origins().has(origin);
