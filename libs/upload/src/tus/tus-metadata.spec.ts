import { AppError, ErrorCode } from '@app/core';
import { tusUploadIdFromUrl, uploadRequestFromMetadata } from './tus-metadata';

describe('tusUploadIdFromUrl', () => {
  const id = '0b7f2f5e-8f0a-4c1e-9a51-1c2d3e4f5a6b';
  it('reads the id from absolute and relative URLs, with or without a trailing slash or query', () => {
    expect(tusUploadIdFromUrl(`/tus/${id}`)).toBe(id);
    expect(tusUploadIdFromUrl(`http://h:3000/tus/${id}/`)).toBe(id);
    expect(tusUploadIdFromUrl(`/tus/${id}?x=1`)).toBe(id);
  });
  it('refuses anything that is not one UUID under /tus/', () => {
    expect(tusUploadIdFromUrl('/tus/')).toBeNull();
    expect(tusUploadIdFromUrl('/tus/../etc/passwd')).toBeNull();
    expect(tusUploadIdFromUrl(`/tus/${id}/x`)).toBeNull();
    expect(tusUploadIdFromUrl(`/media/${id}`)).toBeNull();
    expect(tusUploadIdFromUrl(`/tus/${id.toUpperCase()}`)).toBeNull();
  });
});

describe('uploadRequestFromMetadata', () => {
  it('maps filename/filetype (and Uppy name/type) to the upload-url request shape', () => {
    expect(uploadRequestFromMetadata({ filename: 'a.jpg', filetype: 'image/jpeg', relativePath: null }, 10)).toEqual({
      filename: 'a.jpg',
      mimeType: 'image/jpeg',
      sizeBytes: 10,
    });
    expect(uploadRequestFromMetadata({ name: 'b.png', type: 'image/png' }, 3)).toEqual({
      filename: 'b.png',
      mimeType: 'image/png',
      sizeBytes: 3,
    });
    expect(uploadRequestFromMetadata({ filename: 'a', filetype: 'text/plain', checksumSha256: 'ab' }, 1).checksumSha256).toBe('ab');
  });
  it('is a 400 naming what is missing', () => {
    const call = () => uploadRequestFromMetadata({ filename: 'a.jpg' }, 1);
    expect(call).toThrow(AppError);
    try {
      call();
    } catch (e) {
      expect((e as AppError).code).toBe(ErrorCode.ValidationFailed);
      expect((e as AppError).statusCode).toBe(400);
      expect((e as AppError).message).toContain('"filetype"');
    }
    expect(() => uploadRequestFromMetadata(undefined, 1)).toThrow(/"filename" and "filetype"/);
  });
});
