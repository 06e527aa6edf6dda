import { AppError, ErrorCode } from '@app/core';
import { checkQuota, effectiveLimits } from './quota-rules';

const usage = (bytes: number, assets: number) => ({ bytes, assets, pendingBytes: 0, pendingAssets: 0 });
const refusal = (f: () => void): AppError | undefined => {
  try {
    f();
  } catch (e) {
    return e as AppError;
  }
  return undefined;
};

describe('quota rules', () => {
  const limits = effectiveLimits({ maxBytes: 1000, maxAssets: 3 }, null);

  it('allows an upload that fits exactly', () => {
    expect(refusal(() => checkQuota('7', limits, usage(600, 2), 400))).toBeUndefined();
  });

  it('refuses bytes over the limit with 413 naming maxBytes', () => {
    const e = refusal(() => checkQuota('7', limits, usage(600, 0), 401))!;
    expect(e.code).toBe(ErrorCode.QuotaBytesExceeded);
    expect(e.statusCode).toBe(413);
    expect(e.message).toMatch(/maxBytes/);
    expect(e.details).toMatchObject({ limit: 'maxBytes', maxBytes: 1000, usedBytes: 600, requestedBytes: 401 });
  });

  it('refuses one asset too many with 429 naming maxAssets', () => {
    const e = refusal(() => checkQuota('7', limits, usage(0, 3), 0))!;
    expect(e.code).toBe(ErrorCode.QuotaAssetsExceeded);
    expect(e.statusCode).toBe(429);
    expect(e.message).toMatch(/maxAssets/);
  });

  it('treats 0 as unlimited and lets an override replace each default separately', () => {
    const unlimited = effectiveLimits({ maxBytes: 0, maxAssets: 0 }, null);
    expect(refusal(() => checkQuota('7', unlimited, usage(1e15, 1e9), 1e12))).toBeUndefined();
    const o = effectiveLimits({ maxBytes: 1000, maxAssets: 3 }, { maxBytes: 5000, maxAssets: null });
    expect(o).toEqual({ maxBytes: 5000, maxAssets: 3, overridden: true });
  });
});
