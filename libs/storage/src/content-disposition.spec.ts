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
});
