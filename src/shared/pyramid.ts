/**
 * Geometry of a slide's tile pyramid, shared by the engine (which writes and serves the tiles) and the renderer
 * (which asks for them), so neither side guesses the other's numbering.
 *
 * Level 0 is full resolution; each further level halves the one below, rounding up, until the whole field fits
 * one tile. Tile (x, y) of level k holds level pixels [x * TILE_SIZE, (x + 1) * TILE_SIZE) (edge tiles are cut
 * short, never padded) and so covers field pixels scaled by 2^k.
 */
export const TILE_SIZE = 512;

/**
 * Fields with a side above this are shown through tiles. WebGL guarantees far less (MAX_TEXTURE_SIZE may be 4096
 * on integrated GPUs and software renderers), and a 20k x 20k field as one texture would need 1.6 GB anyway.
 */
export const TILED_MIN_SIDE = 4096;

export interface PyramidLevel {
  level: number;
  /** Field pixels per level pixel: 2^level. */
  scale: number;
  width: number;
  height: number;
  cols: number;
  rows: number;
}

export function usesTiles(width: number, height: number): boolean {
  return Math.max(width, height) > TILED_MIN_SIDE;
}

export function pyramidLevels(width: number, height: number, tileSize = TILE_SIZE): PyramidLevel[] {
  if (!(width > 0 && height > 0)) return [];
  const levels: PyramidLevel[] = [];
  let w = width;
  let h = height;
  for (let level = 0; ; level++) {
    levels.push({
      level,
      scale: 2 ** level,
      width: w,
      height: h,
      cols: Math.ceil(w / tileSize),
      rows: Math.ceil(h / tileSize),
    });
    if (w <= tileSize && h <= tileSize) return levels;
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
  }
}

/** True when (level, x, y) names a tile of a width x height field's pyramid. */
export function isTileOf(width: number, height: number, level: number, x: number, y: number): boolean {
  const l = pyramidLevels(width, height)[level];
  return (
    l != null && Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < l.cols && y < l.rows
  );
}
