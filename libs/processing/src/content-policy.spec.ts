import { judgeContent, sniffExecutable } from './content-policy';

describe('judgeContent', () => {
  it('accepts matching types without a mismatch', () => {
    expect(judgeContent('image/jpeg', 'image/jpeg')).toEqual({ accepted: true, mismatch: false });
  });
  it('accepts a subtype difference in the same family and records it', () => {
    expect(judgeContent('image/jpeg', 'image/png')).toEqual({ accepted: true, mismatch: true });
  });
  it('rejects an executable declared as an image', () => {
    const v = judgeContent('image/png', 'application/x-msdownload');
    expect(v.accepted).toBe(false);
    expect(!v.accepted && v.reason).toMatch(/executable/);
  });
  it('rejects an executable declared as a document', () => {
    expect(judgeContent('application/pdf', 'application/x-elf').accepted).toBe(false);
  });
  it('rejects a declared image whose bytes are unrecognisable or of another family', () => {
    expect(judgeContent('image/png', null).accepted).toBe(false);
    expect(judgeContent('image/png', 'application/pdf').accepted).toBe(false);
  });
  it('accepts audio/video container ambiguity', () => {
    expect(judgeContent('audio/mp4', 'video/mp4').accepted).toBe(true);
  });
  it('accepts text declared as text with nothing detected', () => {
    expect(judgeContent('text/plain', null)).toEqual({ accepted: true, mismatch: false });
  });
});

describe('sniffExecutable', () => {
  it('finds shebang scripts, ELF and PE headers', () => {
    expect(sniffExecutable(Buffer.from('#!/bin/sh\necho hi'))).toBe('text/x-shellscript');
    expect(sniffExecutable(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]))).toBe('application/x-elf');
    expect(sniffExecutable(Buffer.from('MZ\x90\x00'))).toBe('application/x-msdownload');
    expect(sniffExecutable(Buffer.from('hello'))).toBeNull();
  });
});
