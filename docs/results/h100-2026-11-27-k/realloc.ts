// Does re-allocating after dispose() slow a matmul? in_proj dX (204800x64x256) with the chosen tile.
import { getGpu } from "../lib/gpu/device.ts";
import { type Command, type Op, Runtime, type Tensor } from "../lib/gpu/runtime.ts";
import { matmulOps } from "../lib/gpu/ops.ts";
const gpu = await getGpu();
const rt = new Runtime(gpu);
const s = { m: 204_800, n: 64, k: 256 };
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function fill(t: Tensor) {
  const x = new Float32Array(t.size);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 1009) * 1e-3 - 0.5;
  rt.write(t, x);
}
async function time(cmds: Command[]): Promise<string> {
  const ops = cmds.filter((c): c is Op => "pipeline" in c);
  for (let i = 0; i < 100; i++) rt.run(cmds);
  await rt.sync();
  const all: Op[] = [];
  for (let r = 0; r < 10; r++) all.push(...ops);
  const ns = (await rt.profile(all))!;
  return (med(ns) / 1e3).toFixed(1);
}
async function round(label: string, fillC = false) {
  const a = rt.tensor([s.m * s.k]), b = rt.tensor([s.k * s.n]), c = rt.tensor([s.m * s.n]);
  fill(a);
  fill(b);
  if (fillC) fill(c);
  const cmds = await matmulOps(rt, { a, b, c }, s);
  const t = [await time(cmds), await time(cmds), await time(cmds)];
  console.log(`${label}: ${t.join(" ")} µs`);
  return cmds;
}
console.log(gpu.adapterName, new Date().toISOString());
await round("first allocation");
await round("second, first still alive");
rt.dispose();
await round("after dispose");
rt.dispose();
await round("after dispose, C filled", true);
rt.dispose();
const pad = rt.tensor([64 * 1024 * 1024]); // 256 MB
fill(pad);
await round("after dispose + 256 MB allocated first");
rt.dispose();
const cmds = await round("after dispose again");
await new Promise((r) => setTimeout(r, 3000));
console.log(`same buffers after 3 s idle: ${await time(cmds)} µs`);
