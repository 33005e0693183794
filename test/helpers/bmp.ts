/** BMP writer for 24-bit, 32-bit (BGRX) and 8-bit palette files, bottom-up as most software writes them. */
export function bmp(
  width: number,
  height: number,
  rgb: Uint8Array,
  bpp: 8 | 24 | 32,
  topDown = false,
): Buffer {
  const paletteSize = bpp === 8 ? 256 * 4 : 0;
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  const pixelOffset = 14 + 40 + paletteSize;
  const buf = Buffer.alloc(pixelOffset + rowBytes * height);
  buf.write('BM', 0, 'ascii');
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(pixelOffset, 10);
  buf.writeUInt32LE(40, 14);
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(topDown ? -height : height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bpp, 28);
  if (bpp === 8) {
    // A grey palette: index = luminance.
    for (let i = 0; i < 256; i++) buf.writeUInt32LE((i << 16) | (i << 8) | i, 54 + i * 4);
  }
  for (let y = 0; y < height; y++) {
    const row = pixelOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      if (bpp === 8) buf[row + x] = rgb[s + 1];
      else {
        const o = row + x * (bpp / 8);
        buf[o] = rgb[s + 2];
        buf[o + 1] = rgb[s + 1];
        buf[o + 2] = rgb[s];
      }
    }
  }
  return buf;
}
