// Occupancy probe of scan_bwd, with or without LAST (prefix-mode training's last block): per
// variant "V:EB/FS:last" (V: kernel dir tmp/kV/, or "cur" for kernels/; EB/FS "def" = default;
// last 0/1), the min over rounds of the scan_bwd dispatch time at each batch size B (one slice),
// so the step in time as B grows shows how many workgroups an SM runs at once (session 2's
// method, kernels/lab/RESULTS.md). Args: L "B1,B2,..." variants rounds [kernel]: kernel is the
// dispatch label to time (default scan_bwd; e.g. conv_bwd, conv_fwd4, scan_fwd_e).
import { getGpu } from "../../lib/gpu/device.ts";
import { Runtime } from "../../lib/gpu/runtime.ts";
import { MambaLayer } from "../../lib/nn/mamba.ts";
import { rng } from "../../lib/reference/gradcheck.ts";
const gpu = await getGpu();
const L = Number(Deno.args[0] ?? 200);
const Bs = (Deno.args[1] ?? "16,33,50,66,99,132,264,1024").split(",").map(Number);
const which = (Deno.args[2] ?? "cur:def:0,cur:def:1").split(",");
const rounds = Number(Deno.args[3] ?? 5);
const kernel = Deno.args[4] ?? "scan_bwd";
console.log(gpu.adapterName, new Date().toISOString(), `L=${L} H=64 E=128 N=32`, kernel);
const H = 64;
// every (variant, B) built first, then the card kept busy for 1.5 s (an idle H100 runs at 345 MHz
// and ramps up slowly: kernels/lab/RESULTS.md, session 3), then alternating profiled rounds
// deno-lint-ignore no-explicit-any
const built: { w: string; B: number; rt: Runtime; ops: any[]; best: number }[] = [];
for (const w of which) {
  const [v, shape, lastS] = w.split(":");
  const last = lastS === "1";
  const dir = v === "cur" ? "../../kernels/" : `../../tmp/${v.startsWith("k") ? v : `k${v}`}/`;
  const rt = new Runtime(gpu, { kernelDir: new URL(dir, import.meta.url) });
  for (const B of Bs) {
    const scan = shape === "def"
      ? undefined
      : { EB: Number(shape.split("/")[0]), FS: Number(shape.split("/")[1]) };
    const layer = new MambaLayer("m", {
      hidden: H,
      state: 32,
      conv: 4,
      expand: 2,
      scanSlices: 1,
      scan,
    });
    const specs = layer.params();
    const P = rt.flat(specs), G = rt.flat(specs);
    const r = rng(1);
    for (const s of specs) rt.write(P.views.get(s.name)!, s.init(r));
    const rnd = (n: number) => Float32Array.from({ length: n }, () => r() - 0.5);
    const input = rt.tensor([B, L, H], "f32", rnd(B * L * H));
    const b = await layer.build({
      rt,
      param: (x: string) => P.views.get(x)!,
      grad: (x: string) => G.views.get(x)!,
      batch: B,
      seqLen: L,
      step: rt.tensor([4], "u32"),
    }, {
      input,
      dOutput: rt.tensor(last ? [B, H] : [B, L, H], "f32", rnd(last ? B * H : B * L * H)),
      lengths: rt.tensor([B], "i32", new Int32Array(B).fill(L)),
      lastOnly: last ? rt.tensor([B, H], "f32", rnd(B * H)) : undefined,
      dLastOnly: last ? rt.tensor([B, H], "f32", rnd(B * H)) : undefined,
    });
    // deno-lint-ignore no-explicit-any
    const ops = [...b.forward, ...b.backward].filter((c) => "pipeline" in c) as any[];
    built.push({ w, B, rt, ops, best: Infinity });
  }
}
for (const t0 = performance.now(); performance.now() - t0 < 1500;) {
  for (const c of built) c.rt.run(c.ops);
  await built[0].rt.sync();
}
for (let i = 0; i < rounds; i++) {
  for (const c of built) {
    const ns = await c.rt.profile(c.ops);
    if (!ns) continue;
    const t = c.ops.reduce((s, o, j) => s + (o.label?.includes(kernel) ? ns[j] : 0), 0);
    c.best = Math.min(c.best, t);
  }
}
for (const w of which) {
  const row = built.filter((c) => c.w === w).map((c) =>
    `B ${c.B}: ${(c.best / 1e3).toFixed(1)} µs`
  );
  console.log(w, row.join(", "));
}
