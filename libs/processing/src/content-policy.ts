/** Types that are programs: never accepted under a declared media or document type. */
const EXECUTABLE_TYPES = new Set([
  'application/x-msdownload',
  'application/x-dosexec',
  'application/vnd.microsoft.portable-executable',
  'application/x-elf',
  'application/x-executable',
  'application/x-sharedlib',
  'application/x-mach-binary',
  'application/java-vm',
  'application/x-shellscript',
  'text/x-shellscript',
  'application/wasm',
]);

/** Families whose content always has magic bytes: a declared image must look like an image. */
const STRICT_FAMILIES = new Set(['image', 'audio', 'video']);

export type ContentVerdict = { accepted: true; mismatch: boolean } | { accepted: false; reason: string };

const family = (t: string) => t.split('/')[0];

/**
 * Declared vs detected type. Rejects: an executable under any non-executable declared type; a declared
 * image/audio/video whose bytes are not of that family (or unrecognisable). Anything else is accepted,
 * with `mismatch` recording a subtype difference (e.g. declared image/jpeg, detected image/png).
 */
export function judgeContent(declared: string, detected: string | null): ContentVerdict {
  if (detected && EXECUTABLE_TYPES.has(detected) && !EXECUTABLE_TYPES.has(declared)) {
    return { accepted: false, reason: `content is an executable (${detected}) but was declared as ${declared}` };
  }
  if (STRICT_FAMILIES.has(family(declared))) {
    if (!detected) return { accepted: false, reason: `declared ${declared} but the content is not a recognisable ${family(declared)}` };
    if (family(detected) !== family(declared)) {
      // Some containers are ambiguous between audio and video (mp4/webm/ogg); accept those pairs.
      const av = new Set(['audio', 'video']);
      if (!(av.has(family(detected)) && av.has(family(declared)))) {
        return { accepted: false, reason: `declared ${declared} but the content is ${detected}` };
      }
    }
  }
  return { accepted: true, mismatch: !!detected && detected !== declared };
}

/** Recognises executables file-type does not report: scripts with a shebang, PE ("MZ"), ELF. */
export function sniffExecutable(head: Buffer): string | null {
  if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) return 'text/x-shellscript';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) return 'application/x-elf';
  if (head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a) return 'application/x-msdownload';
  return null;
}
