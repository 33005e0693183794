/** Messages between the Electron main process and the engine utility process. Plain data: structured clone. */
import type { EngineEvent } from '../shared/api';

export type HostRequest =
  | { type: 'call'; id: number; method: string; args: unknown }
  | {
      type: 'media';
      id: number;
      kind: 'thumb' | 'image' | 'tile';
      mediaId: number;
      /** For kind 'tile': pyramid level (0 = full resolution) and column/row. */
      tile?: { level: number; x: number; y: number };
    };

export type HostReply =
  | { type: 'result'; id: number; ok: true; result: unknown }
  | { type: 'result'; id: number; ok: false; error: { code: string; message: string } }
  | { type: 'media'; id: number; status: number; mime: string; body: Uint8Array }
  | { type: 'event'; event: EngineEvent }
  | { type: 'ready' };

export type CallEnvelope =
  { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

/** A request before the relay assigns its id (Omit over a union would collapse it). */
export type HostRequestBody = HostRequest extends infer R
  ? R extends HostRequest
    ? Omit<R, 'id'>
    : never
  : never;
