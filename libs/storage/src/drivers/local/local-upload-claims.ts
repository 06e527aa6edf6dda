import { ClaimFiles, HeldClaim } from './claim-files';
import { LocalLayout } from './local-layout';
import { LocalRequestError } from './local-request.error';

/** How upload bodies through signed URLs are bounded (UPLOAD_BODY_IDLE_TIMEOUT_SECONDS and its siblings). */
export interface UploadLimits {
  /** A body that sends no byte for this long is cut. */
  bodyIdleTimeoutSeconds: number;
  /** A body must finish within this long after its URL expires. */
  expiryGraceSeconds: number;
  /** Bodies streaming at once per owner. */
  maxInFlightPerOwner: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { bodyIdleTimeoutSeconds: 30, expiryGraceSeconds: 60, maxInFlightPerOwner: 16 };

/** What a signed upload request streams into: a key (single PUT or form POST), or one part of a multipart upload. */
export interface UploadTarget {
  key: string;
  part?: { uploadId: string; partNumber: number };
  /** Epoch ms after which the body is refused (the URL's expiry plus the grace period). */
  deadlineMs: number;
}

/**
 * Who may stream a body through a signed upload URL, decided before a byte of it is read, atomically across every
 * process that shares the storage root (claim files, see ClaimFiles, under `<root>/.uploading/<bucket>/`):
 *   keys/<key>                 one body at a time per upload key (single PUT or form POST)
 *   parts/<uploadId>.<n>       one body at a time per part of a multipart upload
 *   owners/<owner>/slot-<i>    at most maxInFlightPerOwner bodies at once per owner (`uploads/<owner>/…` keys)
 * A claim lives until the body ends (stored or failed: the client may retry with the same URL) and never past
 * the URL's deadline, so a crash cannot keep a URL claimed beyond it.
 */
export class LocalUploadClaims {
  private readonly claims: ClaimFiles;

  constructor(
    layout: LocalLayout,
    readonly limits: UploadLimits,
  ) {
    this.claims = new ClaimFiles(layout.claimsDir());
  }

  /** The deadline of a body sent through a URL that expires at `expiresAtSeconds` (epoch seconds). */
  deadlineOf(expiresAtSeconds: number): number {
    return (expiresAtSeconds + this.limits.expiryGraceSeconds) * 1000;
  }

  /** Claims the target and an in-flight slot of its owner: 409 while another body streams to it, 429 past the bound. */
  async begin(target: UploadTarget): Promise<HeldClaim> {
    const name = target.part ? `parts/${target.part.uploadId}.${target.part.partNumber}` : `keys/${encodeURIComponent(target.key)}`;
    const max = this.limits.maxInFlightPerOwner;
    const r = await this.claims.acquireWithSlot(name, `owners/${ownerOf(target.key)}/slot-`, max, target.deadlineMs);
    if ('held' in r) return r.held;
    if (r.refused === 'busy') {
      throw new LocalRequestError(
        409,
        'UploadInProgress',
        `Another request is uploading ${target.part ? `part ${target.part.partNumber}` : 'this object'} right now; ` +
          'retry with the same URL once it has ended',
      );
    }
    throw new LocalRequestError(
      429,
      'TooManyUploads',
      `At most ${max} uploads may stream at once per owner (MAX_UPLOADS_IN_FLIGHT_PER_OWNER); retry once one has ended`,
    );
  }
}

/** The owner an upload key belongs to (`uploads/<owner>/<asset>`); other keys share one budget. */
function ownerOf(key: string): string {
  const m = /^uploads\/(\d{1,20})\//.exec(key);
  return m ? m[1] : '_other';
}
