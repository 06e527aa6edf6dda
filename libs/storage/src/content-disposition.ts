/**
 * Builds a Content-Disposition header value for a download filename:
 * `attachment; filename="<ASCII-safe fallback>"; filename*=UTF-8''<RFC 5987 percent-encoded name>`.
 *
 * Old clients read the quoted ASCII `filename`; RFC 6266 clients prefer `filename*`, which keeps the
 * full UTF-8 name. Control characters, bidirectional controls and path separators are removed (a filename
 * never names a directory, and never reorders what the user sees), and the name is capped at 200 characters so
 * the header stays bounded.
 */
export function contentDisposition(filename: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const name = sanitizeFilename(filename);
  return `${type}; filename="${asciiFallback(name)}"; filename*=UTF-8''${encodeRfc5987(name)}`;
}

const MAX_CHARS = 200;

/**
 * Characters that change how the rest of a name is displayed without being visible themselves: the bidirectional
 * controls (ALM U+061C, LRM/RLM U+200E-U+200F, the embeddings and overrides U+202A-U+202E, the isolates
 * U+2066-U+2069; "invoice<U+202E>fdp.exe" shows as "invoiceexe.pdf") and the line/paragraph separators
 * (U+2028-U+2029). Besides these, C0/C1 controls are removed.
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** Well-formed, NFC, no control characters (see INVISIBLE_CONTROLS), last path segment only, trimmed, bounded; never empty. */
function sanitizeFilename(filename: string): string {
  const wellFormed = String(filename ?? '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .normalize('NFC')
    .replace(INVISIBLE_CONTROLS, '');
  const base = (wellFormed.split(/[/\\]/).pop() ?? '').trim();
  const bounded = Array.from(base).slice(0, MAX_CHARS).join('').trim();
  return bounded === '' || bounded === '.' || bounded === '..' ? 'download' : bounded;
}

/** Accents stripped, then anything outside printable ASCII, and `"`, `\` and `%`, become `_`. */
function asciiFallback(name: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^\x20-\x7e]|["\\%]/g, '_');
  return ascii.trim() === '' ? 'download' : ascii;
}

/** RFC 5987 ext-value: attr-char stays, everything else is %XX of its UTF-8 bytes. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
