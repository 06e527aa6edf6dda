/** The cached views of one asset; each is owned (loaded and shaped) by one lib: assets, metadata, acl. */
export type AssetCachePart = 'record' | 'metadata' | 'acl';
export const ASSET_CACHE_PARTS: readonly AssetCachePart[] = ['record', 'metadata', 'acl'];

/** One loader per wanted part; a loader answers from Postgres (null = nothing to cache). */
export type PartLoaders<T> = { [K in keyof T]: () => Promise<T[K] | null> };
