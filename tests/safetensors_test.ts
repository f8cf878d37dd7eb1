import assert from "node:assert/strict";
import { encodeSafetensors, parseSafetensors, type SafeTensor } from "../lib/io/safetensors.ts";
import { SHARED } from "./shared.ts";

Deno.test("safetensors: round trip of every dtype and metadata", () => {
  const t = new Map<string, SafeTensor>([
    ["a", { dtype: "F32", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
    ["b", { dtype: "F64", shape: [1], data: Float64Array.from([Math.PI]) }],
    ["c", { dtype: "I32", shape: [3], data: Int32Array.from([-1, 0, 7]) }],
  ]);
  const back = parseSafetensors(encodeSafetensors(t, { config: "{}" }));
  assert.deepEqual(back.metadata, { config: "{}" });
  for (const [k, v] of t) assert.deepEqual(back.tensors.get(k), v);
});

Deno.test("safetensors: reads the official golden file", async () => {
  const path = new URL("golden/ss4rec_v64_b6_l16.safetensors", SHARED);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    console.log("golden file absent: skipped");
    return;
  }
  const f = parseSafetensors(bytes);
  assert.equal(f.tensors.size, 99);
  const cfg = JSON.parse(f.metadata.config);
  assert.equal(f.tensors.get("out.logits")!.shape.join(), `${cfg.B},${cfg.V}`);
  assert.ok(Math.abs(f.tensors.get("out.loss")!.data[0] as number - 4.2955086497169) < 1e-12);
});

Deno.test("safetensors: rejects junk with a clear message", () => {
  assert.throws(
    () => parseSafetensors(new Uint8Array([1, 2, 3]), "x.safetensors"),
    /x.safetensors/,
  );
});
