// Same-process scan_bwd comparison on one device: variants "V:EB/FS" (V: a kernel dir tmp/kV/ = a copy of
// kernels/ with that version as mamba.wgsl; EB/FS "def" = the default shape). Args: B L variants rounds.
// Per dispatch min/median of timestamp-query runs. Used for kernels/lab/RESULTS.md (v5..v15).
import { getGpu } from "../../lib/gpu/device.ts";
import { Runtime } from "../../lib/gpu/runtime.ts";
import { MambaLayer } from "../../lib/nn/mamba.ts";
import { rng } from "../../lib/reference/gradcheck.ts";
const gpu = await getGpu();
const [B, L] = [Number(Deno.args[0] ?? 1024), Number(Deno.args[1] ?? 200)];
const which = (Deno.args[2] ?? "5:def,7:def,8:def,7:16/4,8:16/4,7:32/2,8:32/2,7:8/2").split(",");
const rounds = Number(Deno.args[3] ?? 7);
console.log(gpu.adapterName, new Date().toISOString(), `B=${B} L=${L} H=64 E=128 N=32`);
// deno-lint-ignore no-explicit-any
const built_: { w: string; rt: Runtime; ops: any[]; runs: number[][] }[] = [];
for (const w of which) {
  const [v, shape, chunk] = w.split(":");
  const rt = new Runtime(gpu, { kernelDir: new URL(`../../tmp/k${v}/`, import.meta.url) });
  const opts = { hidden: 64, state: 32, conv: 4, expand: 2, chunk: Number(chunk ?? 16) } as const;
  const scan = shape === "def"
    ? undefined
    : { EB: Number(shape.split("/")[0]), FS: Number(shape.split("/")[1]) };
  const layer = new MambaLayer("m", { ...opts, scan });
  const specs = layer.params();
  const P = rt.flat(specs), G = rt.flat(specs);
  const r = rng(1);
  for (const s of specs) rt.write(P.views.get(s.name)!, s.init(r));
  const n = B * L * 64;
  const input = rt.tensor([B, L, 64], "f32", Float32Array.from({ length: n }, () => r() - 0.5));
  const dOutput = rt.tensor([B, L, 64], "f32", Float32Array.from({ length: n }, () => r() - 0.5));
  // deno-lint-ignore no-explicit-any
  const built = await (layer as any).build({
    rt,
    param: (x: string) => P.views.get(x)!,
    grad: (x: string) => G.views.get(x)!,
    batch: B,
    seqLen: L,
    step: rt.tensor([4], "u32"),
  }, { input, dOutput });
  const all = [...built.forward, ...built.backward];
  rt.run(all);
  await rt.sync();
  // deno-lint-ignore no-explicit-any
  const ops = all.filter((c) => "pipeline" in c) as any[];
  built_.push({ w, rt, ops, runs: [] });
}
// keep the card busy for 1 s first: an idle H100 runs at 345 MHz and ramps up slowly
// (kernels/lab/RESULTS.md, session 3)
for (const t0 = performance.now(); performance.now() - t0 < 1000;) {
  for (const c of built_) for (let i = 0; i < 4; i++) c.rt.run(c.ops);
  await built_[0].rt.sync();
}
for (let round = 0; round < rounds; round++) {
  for (const c of built_) {
    const ns = await c.rt.profile(c.ops);
    if (ns) c.runs.push(ns);
  }
}
let best = { w: "", t: Infinity };
for (const c of built_) {
  const st = c.ops.map((o, i) => {
    const v = c.runs.map((x) => x[i] / 1e6).sort((a, b) => a - b);
    return [String(o.label), v[0], v[Math.floor(v.length / 2)]] as const;
  });
  const tot = c.runs.map((x) => x.reduce((a, b) => a + b, 0) / 1e6).sort((a, b) => a - b);
  const bwd = st.find(([l]) => /scan_bwd/.test(l));
  if (c.w.split(":")[1] === "def" && bwd && bwd[1] < best.t) {
    best = { w: c.w.split(":")[0], t: bwd[1] };
  }
  console.log(
    c.w.padEnd(8),
    `layer min ${tot[0].toFixed(2)} med ${tot[Math.floor(tot.length / 2)].toFixed(2)} |`,
    st.filter(([l]) => /scan|bc_reduce|conv|param_reduce/.test(l)).map(([l, mn, md]) =>
      `${l.replace(/^\w+:/, "")} ${mn.toFixed(3)}/${md.toFixed(3)}`
    ).join(" | "),
  );
}
console.log(`WINNER ${best.w}`);
if (Deno.args[4]) Deno.writeTextFileSync(Deno.args[4], best.w);
