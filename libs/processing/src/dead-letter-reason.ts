/**
 * The reason a user reads on an asset whose job ran out of attempts. The full error (which can name hosts,
 * paths or keys) stays with the dead letter, for operators (GET /admin/dead-letters).
 */
export function deadLetterReason(attempts: number, error: { name?: string; message?: string } | string | undefined): string {
  const name = typeof error === 'string' ? '' : (error?.name ?? '');
  const message = typeof error === 'string' ? error : (error?.message ?? '');
  let cause = 'an internal error';
  if (name === 'ScannerUnavailableError' || /clamd/i.test(message)) cause = 'the virus scanner was unavailable';
  else if (name.startsWith('Storage') || /storage|EISDIR|ENOENT|EACCES|EIO|S3 /i.test(message))
    cause = 'the stored object could not be read';
  else if (/timed out|timeout/i.test(message)) cause = 'it took too long';
  else if (/stalled/i.test(message)) cause = 'the worker running it stopped repeatedly';
  return `processing failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause}; an operator can retry it`;
}
