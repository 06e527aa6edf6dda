import type { Readable } from 'node:stream';
import type { components, paths } from './generated/openapi';
import type { Asset, MediaClient, UploadOptions, UploadResult } from './media-client';

export type Bucket = components['schemas']['BucketViewDto'];
export type ObjectPage = components['schemas']['ObjectPageDto'];
export type ObjectListQuery = NonNullable<paths['/buckets/{bucket}/objects']['get']['parameters']['query']>;
export type BatchDeleteResult = components['schemas']['BatchDeleteResultDto'];

/**
 * One bucket, addressed by name: `media.bucket('avatars').upload('42/me.png', file)`, `.list({ prefix: '42/' })`,
 * `.move(id, 'new/path')`, `.copy(id, 'copy/path')`. Paths are relative to the bucket.
 */
export class BucketHandle {
  constructor(
    private readonly client: MediaClient,
    readonly name: string,
  ) {}

  /** Its settings and what the caller holds on it. */
  get(): Promise<Bucket> {
    return this.client.getBucket(this.name);
  }

  /** Uploads a file or stream to `path` in this bucket (409 PathTaken when a live asset has it). */
  upload(path: string, input: string | Readable, opts: UploadOptions = {}): Promise<UploadResult> {
    return this.client.uploadFile(input, { ...opts, bucket: this.name, path });
  }

  /** One page, ListObjectsV2-like: `{ items, prefixes, nextCursor }` (pass `delimiter: '/'` for folders). */
  list(query: Omit<ObjectListQuery, 'cursor'> & { cursor?: string } = {}): Promise<ObjectPage> {
    return this.client.listObjects(this.name, query);
  }

  /** Every item under `prefix` (following cursors). */
  async *listAll(query: Omit<ObjectListQuery, 'cursor'> = {}): AsyncGenerator<ObjectPage['items'][number]> {
    let cursor: string | undefined;
    do {
      const page = await this.list({ ...query, cursor });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** Moves (renames) an asset to `path` in this bucket. */
  move(assetId: string, path: string): Promise<Asset> {
    return this.client.moveAsset(assetId, { bucket: this.name, path });
  }

  /** Copies an asset to `path` in this bucket: a new asset owned by the caller sharing the stored bytes. */
  copy(assetId: string, path: string): Promise<Asset> {
    return this.client.copyAsset(assetId, { bucket: this.name, path });
  }

  /** Deletes the assets at these paths; one result per path (204, 403 or 404). */
  async remove(paths: string[]): Promise<BatchDeleteResult[]> {
    return this.client.batchDelete({ bucket: this.name, paths });
  }
}
