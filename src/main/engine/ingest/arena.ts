/**
 * Packs the many small typed arrays of an image's results (a thumbnail and a contour per cell) into a few large
 * buffers. The worker then sends those few buffers to the engine thread (copied, or transferred when very large)
 * instead of structured-cloning tens of thousands of small ones, and a large field's results cost no per-buffer
 * overhead while they wait.
 */
export class ResultArena {
  private chunk: ArrayBuffer | null = null;
  private used = 0;
  readonly buffers: ArrayBuffer[] = [];

  /**
   * Size of the next chunk: chunks double from 64 KiB up to maxChunkBytes, so a one-cell crop image does not
   * allocate (and send) a megabyte.
   */
  private nextChunkBytes = 1 << 16;

  constructor(private readonly maxChunkBytes = 1 << 20) {}

  private alloc(bytes: number, align: number): { buffer: ArrayBuffer; offset: number } {
    let offset = Math.ceil(this.used / align) * align;
    if (!this.chunk || offset + bytes > this.chunk.byteLength) {
      this.chunk = new ArrayBuffer(Math.max(this.nextChunkBytes, bytes));
      this.nextChunkBytes = Math.min(this.maxChunkBytes, this.nextChunkBytes * 2);
      this.buffers.push(this.chunk);
      offset = 0;
    }
    this.used = offset + bytes;
    return { buffer: this.chunk, offset };
  }

  bytes(src: Uint8Array): Uint8Array {
    const { buffer, offset } = this.alloc(src.length, 1);
    const view = new Uint8Array(buffer, offset, src.length);
    view.set(src);
    return view;
  }

  floats(src: Float32Array): Float32Array {
    const { buffer, offset } = this.alloc(src.length * 4, 4);
    const view = new Float32Array(buffer, offset, src.length);
    view.set(src);
    return view;
  }
}
