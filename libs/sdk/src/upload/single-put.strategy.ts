import { MediaApiError } from '../media-api-error';
import { backoffDelay, isNetworkError, networkReason, RETRYABLE_STATUS, sleep } from '../retry';
import { MeteredStream, parseJson, readText, request } from '../transfer';
import { UploadContext, UploadGrant, UploadOutcome, UploadStrategy } from './upload-strategy';

/** S3-style XML error → its Code and Message. */
export function storageMessage(text: string): { code?: string; message: string } {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return { code, message: message ?? (text.trim().slice(0, 300) || 'no body') };
}

/** The bytes in one PUT to the signed URL, with exactly the headers the grant lists; streamed, hashed, metered. */
export class SinglePutStrategy implements UploadStrategy {
  readonly kind = 'single-put';

  accepts(grant: UploadGrant): boolean {
    return grant.method === 'PUT' && !grant.uploadId && typeof grant.uploadUrl === 'string';
  }

  async upload(ctx: UploadContext): Promise<UploadOutcome> {
    const { grant, source } = ctx;
    for (let attempt = 0; ; attempt++) {
      const canRetry = source.reopenable && attempt < ctx.retry.retries;
      const meter = new MeteredStream((loaded) => ctx.onProgress?.({ phase: 'upload', loaded, total: source.size }), source.size);
      const body = source.open();
      body.pipe(meter);
      body.on('error', (e) => meter.destroy(e));
      try {
        const res = await request(grant.uploadUrl, {
          method: 'PUT',
          // The grant's headers plus the body's exact length: the signature binds it, and a stream would go chunked.
          headers: { ...grant.headers, 'Content-Length': String(source.size) },
          body: meter,
          signal: ctx.signal,
          idleTimeoutMs: ctx.idleTimeoutMs,
        });
        const text = await readText(res);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return { sha256: meter.digest() };
        if (canRetry && RETRYABLE_STATUS.has(status)) {
          await sleep(backoffDelay(attempt, ctx.retry), ctx.signal);
          continue;
        }
        const json = parseJson(text);
        if (json && typeof json === 'object') throw MediaApiError.fromResponse(status, json);
        const { code, message } = storageMessage(text);
        throw MediaApiError.sdk('StorageRejected', `Storage refused the upload (HTTP ${status}${code ? ` ${code}` : ''}): ${message}`, {
          statusCode: status,
          details: { code },
        });
      } catch (e) {
        body.destroy();
        if (e instanceof MediaApiError) throw e;
        if (canRetry && isNetworkError(e)) {
          await sleep(backoffDelay(attempt, ctx.retry), ctx.signal);
          continue;
        }
        if (isNetworkError(e)) throw MediaApiError.sdk('NetworkError', `Upload to storage failed: ${networkReason(e)}`, { cause: e });
        throw e;
      }
    }
  }
}
