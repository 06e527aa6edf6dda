/** S3's limit on parts per upload. */
export const MAX_PARTS = 10_000;
/** Part URLs signed by one POST /media/{id}/parts call, and handed out with the session. */
export const MAX_PARTS_PER_SIGN_REQUEST = 100;
export const INITIAL_SIGNED_PARTS = 10;

const MiB = 1024 * 1024;

export interface PartPlan {
  partSize: number;
  partCount: number;
}

/**
 * How an upload of `size` bytes is cut: parts of `preferred` bytes (at least `min`), grown — to whole MiB — until
 * at most 10000 parts are needed. Every part but the last has exactly `partSize` bytes.
 */
export function planParts(size: number, preferred: number, min: number): PartPlan {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  let partSize = Math.max(preferred, min);
  if (Math.ceil(size / partSize) > MAX_PARTS) partSize = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return { partSize, partCount: Math.ceil(size / partSize) };
}

/** The exact size of part `partNumber` (1-based) under `plan` for an upload of `size` bytes. */
export function partLength(plan: PartPlan, size: number, partNumber: number): number {
  if (partNumber < 1 || partNumber > plan.partCount) throw new RangeError(`part ${partNumber} is outside 1..${plan.partCount}`);
  return partNumber < plan.partCount ? plan.partSize : size - (plan.partCount - 1) * plan.partSize;
}
