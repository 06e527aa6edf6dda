import { deadLetterReason } from './dead-letter-reason';
import { cappedExponentialBackoff } from './processing.constants';

describe('deadLetterReason', () => {
  it('names the cause without the raw error', () => {
    expect(deadLetterReason(5, { name: 'ScannerUnavailableError', message: 'clamd at 10.0.0.5:3310 is unreachable: ECONNREFUSED' })).toBe(
      'processing failed after 5 attempts: the virus scanner was unavailable; an operator can retry it',
    );
    const r = deadLetterReason(3, {
      name: 'Error',
      message: "EISDIR: illegal operation on a directory, read '/srv/data/media/uploads/1/x'",
    });
    expect(r).toMatch(/stored object could not be read/);
    expect(r).not.toContain('/srv');
    expect(deadLetterReason(1, 'job stalled more than allowable limit')).toMatch(/1 attempt: the worker running it stopped repeatedly/);
    expect(deadLetterReason(2, { message: 'boom' })).toMatch(/an internal error/);
  });
});

describe('cappedExponentialBackoff', () => {
  it('doubles from the first delay and stops at the cap', () => {
    const o = { delay: 100, max: 500 };
    expect([1, 2, 3, 4, 5].map((n) => cappedExponentialBackoff(n, undefined, o))).toEqual([100, 200, 400, 500, 500]);
  });
});
