import sharp from 'sharp';

/** A real JPEG with EXIF (camera make/model) of the given size. */
export function jpegWithExif(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 10 } } })
    .jpeg({ quality: 80 })
    .withExif({ IFD0: { Make: 'TestCam', Model: 'X1000' } })
    .toBuffer();
}

export function png(width = 16, height = 16): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 4, background: { r: 0, g: 0, b: 255, alpha: 1 } } })
    .png()
    .toBuffer();
}

/** Bytes that start like a Windows executable ("MZ" + PE stub). */
export function fakeExecutable(): Buffer {
  const b = Buffer.alloc(1024, 0);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x80, 0x3c);
  b.write('PE\0\0', 0x80, 'latin1');
  return b;
}
