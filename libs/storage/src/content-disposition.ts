/**
 * Builds a Content-Disposition header value for a download filename:
 * `attachment; filename="<ASCII-safe fallback>"; filename*=UTF-8''<RFC 5987 percent-encoded name>`.
 *
 * Old clients read the quoted ASCII `filename`; RFC 6266 clients prefer `filename*`, which keeps the
 * full UTF-8 name. Control characters and path separators are removed (a filename never names a
 * directory), and the name is capped at 200 characters so the header stays bounded.
 */
export function contentDisposition(filename: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const name = sanitizeFilename(filename);
  return `${type}; filename="${asciiFallback(name)}"; filename*=UTF-8''${encodeRfc5987(name)}`;
}

const MAX_CHARS = 200;

/** Well-formed, NFC, no control characters, last path segment only, trimmed, bounded; never empty. */
function sanitizeFilename(filename: string): string {
  const wellFormed = String(filename ?? '')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
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
