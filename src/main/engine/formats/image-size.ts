import sharp from 'sharp';

/** Width and height from the file header without decoding pixels; EXIF rotation by 90/270 degrees swaps them. */
export async function imageSize(file: string): Promise<{ width: number; height: number }> {
  const m = await sharp(file).metadata();
  if (!m.width || !m.height) throw new Error(`${file}: cannot read the image size`);
  const swap = m.orientation != null && m.orientation >= 5;
  return swap ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
}
