import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { OutboxService } from '@app/core';
import { STORAGE_DRIVER, StorageDriver } from '@app/storage';
import { EntityManager } from 'typeorm';
import { AssetsRepository } from './assets.repository';
import { OBJECT_DELETE_TOPIC } from './topics';

/**
 * Deleting a blob is follow-up work of a committed change (a delete, a dedup, a failed or expired upload): the
 * change writes the request to the outbox in its transaction (`request`), and the outbox delivers it here after
 * commit, retrying until storage takes it. A key that a stored object uses (again) is never deleted.
 */
@Injectable()
export class ObjectDeletionHandler implements OnModuleInit {
  constructor(
    private readonly repo: AssetsRepository,
    private readonly outbox: OutboxService,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
  ) {}

  onModuleInit() {
    this.outbox.register(OBJECT_DELETE_TOPIC, async ({ bucket, objectKey }: { bucket: string; objectKey: string }) => {
      if (bucket !== this.storage.bucket) throw new Error(`object.delete for unknown bucket ${bucket}`);
      await this.deleteUnlessStored(objectKey);
    });
  }

  /** Asks for the object's deletion once `m` commits. */
  async request(m: EntityManager, object: { bucket: string; objectKey: string }): Promise<void> {
    await this.outbox.append(m, OBJECT_DELETE_TOPIC, { bucket: object.bucket, objectKey: object.objectKey });
  }

  /** Deletes the object now, unless a stored object uses its key. */
  async deleteUnlessStored(objectKey: string): Promise<void> {
    if (await this.repo.isStoredObjectKey(this.storage.bucket, objectKey)) return;
    await this.storage.delete(objectKey);
  }
}
