import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { PROCESSING_CONFIG, ProcessingConfig, registerWorker, STORAGE_CONFIG, StorageConfig } from '@app/core';
import { AssetStateService, AssetStatus, MediaAsset } from '@app/assets';
import { canCopy, canGiveLocalFile, ObjectKeyLayout, STORAGE_DRIVER, StorageDriver, StorageNotFoundError } from '@app/storage';
import type { Job, Queue } from 'bull';
import type { Readable } from 'node:stream';
import { detectMimeType, extractImageMetadata, scanStream, StreamFacts } from './asset-inspector';
import { judgeContent } from './content-policy';
import { deadLetterReason } from './dead-letter-reason';
import { DerivativeRow } from './derived/derived-media.repository';
import { assertPixelBudget, DERIVABLE_IMAGE_TYPES, PixelLimitError } from './derived/derived-media.renderer';
import { DerivedMediaService } from './derived/derived-media.service';
import { MediaProbe } from './media-probe';
import { PROCESS_ASSET_JOB, PROCESSING_QUEUE, ProcessAssetJobData } from './processing.constants';
import { MALWARE_SCANNER, MalwareScanner, ScanRefusedError, ScanSession, ScanVerdict } from './scanning/malware-scanner';

/** How long a signed URL given to ffprobe (remote stores) stays valid. */
const PROBE_URL_TTL_SECONDS = 300;

/**
 * Streams the stored object once: SHA-256, size, magic-byte type, EXIF and dimensions, and the virus scan (the
 * same chunks are fed to clamd). Then: quarantined (virus), failed (a verdict about the bytes), or ready — after
 * audio/video facts (ffprobe), derived images (sharp), and moving the bytes to the asset's own stored key.
 *
 * Idempotent: an asset that is no longer `processing` is left alone, every write goes to a key that is a function
 * of the asset, and the final transition locks the row. Infrastructure errors (clamd or storage unreachable)
 * throw, so Bull retries with backoff; verdicts about the bytes do not.
 */
@Injectable()
export class ProcessAssetProcessor implements OnModuleInit {
  private readonly logger = new Logger('ProcessAsset');
  private readonly probe: MediaProbe;

  constructor(
    private readonly assets: AssetStateService,
    private readonly derived: DerivedMediaService,
    @Inject(MALWARE_SCANNER) private readonly scanner: MalwareScanner,
    @Inject(STORAGE_DRIVER) private readonly storage: StorageDriver,
    @Inject(PROCESSING_CONFIG) private readonly processing: ProcessingConfig,
    @Inject(STORAGE_CONFIG) private readonly storageConfig: StorageConfig,
    @InjectQueue(PROCESSING_QUEUE) private readonly queue: Queue<ProcessAssetJobData>,
  ) {
    this.probe = new MediaProbe(processing.FFPROBE_PATH, processing.FFPROBE_TIMEOUT_MS);
  }

  onModuleInit() {
    // Registered here rather than with @Process so the configured concurrency applies.
    registerWorker<ProcessAssetJobData>(this.queue, {
      job: PROCESS_ASSET_JOB,
      concurrency: this.processing.PROCESSING_CONCURRENCY,
      handler: (job) => this.process(job),
    });
    this.queue.on('failed', (job: Job<ProcessAssetJobData>, err: Error) => void this.onFailed(job, err));
  }

  async process(job: Job<ProcessAssetJobData>): Promise<{ outcome: string }> {
    const { assetId } = job.data;
    const asset = await this.assets.findForProcessing(assetId);
    if (!asset || asset.status !== AssetStatus.Processing) {
      // Deleted while a run of this job was under way (a worker killed mid-job): drop any copy that run made.
      if (asset?.status === AssetStatus.Deleted) await this.assets.releaseStrayObject(this.storedKey(assetId));
      return { outcome: `skipped (${asset?.status ?? 'missing'})` };
    }

    // Opened once (no HEAD before it: a missing object is the read's StorageNotFoundError).
    let body: Readable;
    try {
      body = await this.storage.read(asset.objectKey);
    } catch (e) {
      if (!(e instanceof StorageNotFoundError)) throw e;
      await this.assets.failProcessing(assetId, 'the uploaded object is missing from storage');
      return { outcome: 'failed: missing object' };
    }

    // One pass: hash, head bytes and the virus scan (clamd unreachable → throw → retry later).
    let session: ScanSession;
    try {
      session = await this.scanner.open();
    } catch (e) {
      body.destroy();
      throw e;
    }
    let facts: StreamFacts;
    let scan: ScanVerdict;
    try {
      facts = await scanStream(body, { tee: (chunk) => session.write(chunk) });
      scan = await session.finish();
    } catch (e) {
      session.abort();
      if (e instanceof ScanRefusedError) {
        await this.assets.failProcessing(assetId, `virus scan refused the file: ${e.message}`);
        return { outcome: 'failed: scan refused' };
      }
      throw e;
    }
    const scanMetadata: Record<string, string> = {
      'scan:status': scan.status,
      'scan:engine': scan.engine,
      'scan:scanned_at': new Date().toISOString(),
    };

    if (scan.status === 'infected') {
      await this.quarantine(asset, facts.size, scan.signature, { ...scanMetadata, 'scan:signature': scan.signature });
      return { outcome: 'quarantined' };
    }

    const declaredSize = Number(asset.sizeBytes);
    if (facts.size !== declaredSize) {
      await this.assets.failProcessing(assetId, `size mismatch: declared ${declaredSize} bytes, stored ${facts.size}`);
      return { outcome: 'failed: size' };
    }
    if (asset.declaredChecksumSha256 && asset.declaredChecksumSha256 !== facts.sha256) {
      await this.assets.failProcessing(assetId, `checksum mismatch: declared ${asset.declaredChecksumSha256}, computed ${facts.sha256}`);
      return { outcome: 'failed: checksum' };
    }
    const detected = await detectMimeType(facts.head);
    const verdict = judgeContent(asset.mimeType, detected);
    if (!verdict.accepted) {
      await this.assets.failProcessing(assetId, `content rejected: ${verdict.reason}`, { detectedMimeType: detected });
      return { outcome: 'failed: content' };
    }

    const type = detected ?? asset.mimeType;
    const metadata: Record<string, string> = { ...scanMetadata };
    if (detected) metadata['media:detected_type'] = detected;
    if (verdict.mismatch) metadata['media:type_mismatch'] = `declared ${asset.mimeType}, detected ${detected}`;

    let derivatives: DerivativeRow[] = [];
    if (type.startsWith('image/')) {
      Object.assign(metadata, await extractImageMetadata(facts.head));
      try {
        const w = Number(metadata['media:width']);
        const h = Number(metadata['media:height']);
        if (w > 0 && h > 0) assertPixelBudget(w, h, this.processing.IMAGE_MAX_PIXELS);
        if (this.processing.DERIVED_MEDIA_ENABLED && detected && DERIVABLE_IMAGE_TYPES.has(detected))
          derivatives = await this.derive(asset);
      } catch (e) {
        if (!(e instanceof PixelLimitError)) throw e;
        await this.assets.failProcessing(assetId, `content rejected: ${e.message}`, { detectedMimeType: detected });
        return { outcome: 'failed: pixel limit' };
      }
    } else if (type.startsWith('audio/') || type.startsWith('video/')) {
      Object.assign(metadata, await this.probeMedia(asset));
    }

    // Every asset gets its own object (a hard link on the local driver, a server-side copy on S3), then goes ready:
    // the same steps whether or not identical bytes are stored already, so the time to `ready` tells nobody. Sharing
    // the bytes, and checking the shared object before relying on it, run after commit (DedupSettleHandler).
    const storedKey = this.storedKey(assetId);
    await this.copyObject(asset.objectKey, storedKey, asset.mimeType, facts.size, facts.sha256);
    const changed = await this.assets.completeProcessing(
      assetId,
      { sha256: facts.sha256, size: facts.size, detectedMimeType: detected, metadata, storedAt: { objectKey: storedKey } },
      derivatives.length ? (m) => this.derived.link(m, derivatives) : undefined,
    );
    if (!changed) {
      // Deleted (or finished by another worker) meanwhile: drop what this run wrote that nothing links to.
      const now = await this.assets.findForProcessing(assetId);
      if (now?.status !== AssetStatus.Ready) {
        await this.derived.discard(derivatives);
        await this.assets.releaseStrayObject(storedKey);
      }
      return { outcome: `skipped at the end (${now?.status ?? 'missing'})` };
    }
    return { outcome: 'ready' };
  }

  private storedKey(assetId: string): string {
    return ObjectKeyLayout.stored(assetId, this.storageConfig.storageSigningSecret);
  }

  /** Infected: the object leaves the readable path (moved under quarantine/, or deleted) and the asset is quarantined. */
  private async quarantine(asset: MediaAsset, size: number, signature: string, metadata: Record<string, string>) {
    const reason = `virus found: ${signature}`;
    if (this.processing.QUARANTINE_ACTION === 'move') {
      const to = ObjectKeyLayout.quarantine(asset.assetId);
      await this.copyObject(asset.objectKey, to, 'application/octet-stream', size);
      const changed = await this.assets.failProcessing(asset.assetId, reason, {
        status: AssetStatus.Quarantined,
        metadata,
        object: { relocatedTo: to },
      });
      if (!changed) await this.storage.delete(to);
    } else {
      await this.assets.failProcessing(asset.assetId, reason, { status: AssetStatus.Quarantined, metadata, object: 'delete' });
    }
    this.logger.warn({ assetId: asset.assetId, signature }, 'virus found; asset quarantined');
  }

  /** A copy inside the store when the driver can, else streamed through this process. */
  private async copyObject(fromKey: string, toKey: string, contentType: string, size: number, sha256?: string) {
    if (canCopy(this.storage)) await this.storage.copy({ fromKey, toKey, sha256 });
    else await this.storage.write({ key: toKey, body: await this.storage.read(fromKey), contentType, contentLength: size });
  }

  private async derive(asset: MediaAsset): Promise<DerivativeRow[]> {
    try {
      return await this.derived.generate(asset);
    } catch (e) {
      if (e instanceof PixelLimitError) throw e;
      if ((e as Error).name?.startsWith('Storage')) throw e; // unreachable store: retry the job
      // An image that passed the type check but that libvips cannot decode: ready, without thumbnails.
      this.logger.warn({ assetId: asset.assetId }, `no thumbnails: ${(e as Error).message}`);
      return [];
    }
  }

  private async probeMedia(asset: MediaAsset): Promise<Record<string, string>> {
    // A file on this machine is read directly (seekable, and no round trip through this service's own URL).
    const file = canGiveLocalFile(this.storage) ? await this.storage.localFilePath({ key: asset.objectKey }) : null;
    if (file) return this.probe.probe({ file });
    const url = await this.storage.presignGet({ key: asset.objectKey, expiresInSeconds: PROBE_URL_TTL_SECONDS });
    return this.probe.probe({ url });
  }

  /** Out of attempts (Bull's failed set): the asset shows `failed`; the object is kept for an operator's retry. */
  async onFailed(job: Job<ProcessAssetJobData>, err: Error) {
    if (job.name !== PROCESS_ASSET_JOB) return;
    const final = await job.isFailed().catch(() => job.attemptsMade >= (job.opts.attempts ?? 1));
    if (!final) {
      this.logger.warn({ assetId: job.data.assetId, attempt: job.attemptsMade, err: err.message }, 'processing attempt failed; will retry');
      return;
    }
    this.logger.error({ assetId: job.data.assetId, err: err.message }, 'processing failed after all attempts (dead letter)');
    await this.assets
      .failProcessing(job.data.assetId, deadLetterReason(job.attemptsMade, err), { object: 'keep' })
      .catch((e: Error) => this.logger.error(`could not mark ${job.data.assetId} failed: ${e.message}`));
  }
}
