/**
 * safetensors read/write (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON header `{name: {dtype, shape, data_offsets}, __metadata__}`, then raw
 * little-endian row-major data. Checkpoints use it so a PyTorch user can open them, and the
 * official SS4Rec's golden tensors load through it.
 *
 * @module
 */

import { writeFileAtomic } from "./atomic.ts";

/** Supported element types. */
export type SafeDType = "F32" | "F64" | "I32" | "I64" | "U32";

/** One tensor read from or written to a safetensors file. */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint32Array;
}

/** A parsed file: tensors by name, plus the string metadata. */
export interface SafeFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const SIZES: Record<SafeDType, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U32: 4 };

/** Parses safetensors bytes; `source` names the file in error messages. */
export function parseSafetensors(bytes: Uint8Array, source = "safetensors"): SafeFile {
  if (bytes.length < 8) throw new Error(`${source}: not a safetensors file (too short)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n <= 0 || 8 + n > bytes.length) throw new Error(`${source}: bad header length ${n}`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new Error(`${source}: header is not valid JSON`);
  }
  const base = 8 + n;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = v as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = v as {
      dtype: SafeDType;
      shape: number[];
      data_offsets: [number, number];
    };
    const size = SIZES[dtype];
    if (!size) throw new Error(`${source}: tensor '${name}': unsupported dtype ${dtype}`);
    const [s, e] = data_offsets;
    const count = shape.reduce((a, b) => a * b, 1);
    if ((e - s) !== count * size || base + e > bytes.length) {
      throw new Error(`${source}: tensor '${name}': data_offsets do not match shape`);
    }
    const buf = bytes.slice(base + s, base + e).buffer; // copy: aligned for typed arrays
    const data = dtype === "F32"
      ? new Float32Array(buf)
      : dtype === "F64"
      ? new Float64Array(buf)
      : dtype === "I32"
      ? new Int32Array(buf)
      : dtype === "U32"
      ? new Uint32Array(buf)
      : new BigInt64Array(buf);
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

/** Reads a safetensors file. */
export async function readSafetensors(path: string): Promise<SafeFile> {
  return parseSafetensors(await Deno.readFile(path), path);
}

/** Serialises tensors (in insertion order) and metadata to safetensors bytes. */
export function encodeSafetensors(
  tensors: Map<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const [name, t] of tensors) {
    const len = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + len] };
    off += len;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8; // keep the data 8-byte aligned
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically (temp file + rename). */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
