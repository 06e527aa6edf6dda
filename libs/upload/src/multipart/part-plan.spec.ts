import { MAX_PARTS, partLength, planParts } from './part-plan';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('planParts', () => {
  it('cuts into parts of the preferred size, the last one shorter', () => {
    const plan = planParts(100 * MiB + 5, 16 * MiB, 5 * MiB);
    expect(plan).toEqual({ partSize: 16 * MiB, partCount: 7 });
    expect(partLength(plan, 100 * MiB + 5, 1)).toBe(16 * MiB);
    expect(partLength(plan, 100 * MiB + 5, 7)).toBe(100 * MiB + 5 - 6 * 16 * MiB);
  });

  it('never goes below the minimum part size', () => {
    expect(planParts(20 * MiB, 1 * MiB, 5 * MiB)).toEqual({ partSize: 5 * MiB, partCount: 4 });
  });

  it('grows the part size (whole MiB) so that no upload needs more than 10000 parts', () => {
    const size = 5 * 1024 * GiB; // 5 TiB, S3's largest object
    const plan = planParts(size, 16 * MiB, 5 * MiB);
    expect(plan.partCount).toBeLessThanOrEqual(MAX_PARTS);
    expect(plan.partSize % MiB).toBe(0);
    expect(plan.partSize).toBeGreaterThan(16 * MiB);
    expect(planParts(200 * GiB, 16 * MiB, 5 * MiB).partCount).toBeLessThanOrEqual(MAX_PARTS);
  });

  it('a file of exactly n parts has no short last part', () => {
    const plan = planParts(64 * MiB, 16 * MiB, 5 * MiB);
    expect(plan).toEqual({ partSize: 16 * MiB, partCount: 4 });
    expect(partLength(plan, 64 * MiB, 4)).toBe(16 * MiB);
  });

  it('refuses sizes it cannot plan and parts outside the plan', () => {
    expect(() => planParts(0, 16 * MiB, 5 * MiB)).toThrow(RangeError);
    expect(() => partLength({ partSize: 10, partCount: 2 }, 15, 3)).toThrow(RangeError);
  });
});
