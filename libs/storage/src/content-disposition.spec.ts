import { contentDisposition } from './content-disposition';

/** Decodes the RFC 5987 value the way a browser does. */
function extValue(header: string): string {
  const m = /filename\*=UTF-8''([^;]*)/.exec(header);
  if (!m) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(m[1]);
}
function quotedValue(header: string): string {
  const m = /filename="([^"]*)"/.exec(header);
  if (!m) throw new Error(`no filename in ${header}`);
  return m[1];
}

describe('contentDisposition', () => {
  it('formats a plain ASCII name as attachment with both forms', () => {
    expect(contentDisposition('report.pdf')).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
  });

  it('supports inline', () => {
    expect(contentDisposition('a.png', 'inline')).toMatch(/^inline; filename="a\.png"; /);
  });

  it('keeps the UTF-8 name in filename* and an ASCII-safe fallback', () => {
    const h = contentDisposition('Café über 日本.jpg');
    expect(extValue(h)).toBe('Café über 日本.jpg');
    expect(quotedValue(h)).toBe('Cafe uber __.jpg');
    // The whole header value is ASCII (Node refuses other header bytes).
    expect(/^[\x20-\x7e]*$/.test(h)).toBe(true);
  });

  it('escapes quotes, backslashes, percent and RFC 5987 non-attr-chars', () => {
    const h = contentDisposition(`a"b%c'(d)*.txt`);
    expect(quotedValue(h)).toBe(`a_b_c'(d)*.txt`);
    expect(h).toContain(`filename*=UTF-8''a%22b%25c%27%28d%29%2A.txt`);
    expect(extValue(h)).toBe(`a"b%c'(d)*.txt`);
  });

  it('cannot inject header parameters or lines', () => {
    const h = contentDisposition('x.txt"; filename="evil.exe\r\nSet-Cookie: a=b');
    expect(h).not.toMatch(/[\r\n]/);
    // Exactly two parameters: one quoted-string without inner quotes, one token without ';' or spaces.
    expect(h).toMatch(/^attachment; filename="[^"\\]*"; filename\*=UTF-8''[^;"\s]*$/);
    expect(quotedValue(h)).toBe('x.txt_; filename=_evil.exeSet-Cookie: a=b');
  });

  it('drops directories and control characters', () => {
    expect(quotedValue(contentDisposition('../../etc/passwd'))).toBe('passwd');
    expect(quotedValue(contentDisposition('C:\\Users\\me\\photo.png'))).toBe('photo.png');
    expect(quotedValue(contentDisposition('a\u0000b\u0007c.txt'))).toBe('abc.txt');
  });

  it('never yields an empty name', () => {
    for (const n of ['', '   ', '..', '/', '\u0001']) expect(quotedValue(contentDisposition(n))).toBe('download');
    expect(quotedValue(contentDisposition('日本'))).toBe('__');
  });

  it('survives lone surrogates and bounds the length', () => {
    expect(() => contentDisposition('a\uD800b.txt')).not.toThrow();
    expect(extValue(contentDisposition('a\uD800b.txt'))).toBe('a\uFFFDb.txt');
    expect(Array.from(extValue(contentDisposition('é'.repeat(1000))))).toHaveLength(200);
  });

  describe('bidirectional controls', () => {
    const BIDI = ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u061c'];
    const anyBidi = /\u061c|\u200e|\u200f|[\u202a-\u202e]|[\u2066-\u2069]|%E2%80%8[EF]|%E2%80%A[A-E]|%E2%81%A[6-9]|%D8%9C/i;

    it('removes a right-to-left override that spoofs the extension, from both forms', () => {
      const h = contentDisposition('invoice\u202Efdp.exe');
      expect(h).toBe(`attachment; filename="invoicefdp.exe"; filename*=UTF-8''invoicefdp.exe`);
      expect(h).not.toMatch(anyBidi);
    });

    it.each(BIDI.map((c) => [c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0'), c]))('removes U+%s', (_code, c) => {
      const h = contentDisposition(`a${c}b${c}.pdf${c}`);
      expect(quotedValue(h)).toBe('ab.pdf');
      expect(extValue(h)).toBe('ab.pdf');
      expect(h).not.toMatch(anyBidi);
    });

    it('keeps right-to-left text itself, only the controls go', () => {
      const h = contentDisposition('\u202bחשבונית\u202c \u2067فاتورة\u2069.pdf');
      expect(extValue(h)).toBe('חשבונית فاتورة.pdf');
      expect(quotedValue(h)).toBe('_______ ______.pdf');
    });

    it('removes line and paragraph separators, and a name of controls only becomes "download"', () => {
      expect(extValue(contentDisposition('a\u2028b\u2029c.txt'))).toBe('abc.txt');
      expect(quotedValue(contentDisposition(BIDI.join('')))).toBe('download');
      expect(quotedValue(contentDisposition('\u202e.\u202e'))).toBe('download');
    });

    it('never leaves one in a header, whatever surrounds it', () => {
      const pieces = ['', 'x', '.exe', 'é', '日本', '\uD800', '/', '"', '%', ' ', '\u0000'];
      for (const a of pieces)
        for (const c of BIDI)
          for (const b of pieces) {
            const h = contentDisposition(`${a}${c}${b}${c}gpj.exe`);
            expect(h).not.toMatch(anyBidi);
            expect(extValue(h)).not.toMatch(anyBidi);
            expect(/^[\x20-\x7e]*$/.test(h)).toBe(true);
          }
    });
  });
});
