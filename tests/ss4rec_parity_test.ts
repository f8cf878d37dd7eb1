/**
 * Parity with the official PyTorch SS4Rec: weights, inputs, activations, loss and every gradient
 * from ../shared/golden (float64, made by the official code). V, B, L come from the file.
 */
import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { readSafetensors, type SafeTensor } from "../lib/io/safetensors.ts";
import { SS4Rec } from "../lib/models/ss4rec.ts";
import { relErr } from "../lib/reference/gradcheck.ts";
import { SHARED } from "./shared.ts";

const GOLDEN = new URL("golden/", SHARED);

async function goldenFiles(): Promise<string[]> {
  try {
    const out: string[] = [];
    for await (const e of Deno.readDir(GOLDEN)) {
      if (e.name.endsWith(".safetensors")) out.push(new URL(e.name, GOLDEN).pathname);
    }
    return out.sort();
  } catch {
    return [];
  }
}

const files = await goldenFiles();

// also with the Mamba backward scan in batch slices (the default at B = 1,024; 1 slice here), with
// every layer keeping its own activations (config `recompute: false`: no replay in backward), and
// with only the S5 layers keeping theirs (`recompute: mamba`)
for (
  const [path, slices, recompute] of files.flatMap((f) =>
    [[f, 1, true], [f, 3, true], [f, 1, false], [f, 1, "mamba"]] as const
  )
) {
  const what = (slices > 1 ? ` (Mamba backward scan in ${slices} batch slices)` : "") +
    (recompute === false ? " (recompute off: every layer keeps its activations)" : "") +
    (recompute === "mamba" ? " (recompute mamba: S5 keeps its activations)" : "");
  Deno.test(`SS4Rec parity with the official code: ${path.split("/").pop()}${what}`, async () => {
    const { tensors: g, metadata } = await readSafetensors(path);
    const cfg = JSON.parse(metadata.config);
    const t = (k: string): SafeTensor => {
      const v = g.get(k);
      if (!v) throw new Error(`golden file lacks ${k}`);
      return v;
    };
    const [B, L] = t("input.item_seq").shape;
    const V = cfg.V;
    const rt = new Runtime(await getGpu());
    const model = new SS4Rec(rt, {
      numItems: V,
      hiddenSize: cfg.hidden_size,
      numLayers: cfg.num_layers,
      dropoutProb: cfg.dropout_prob,
      dP: cfg.d_P,
      dtMin: cfg.dt_min,
      dtMax: cfg.dt_max,
      dState: cfg.d_state,
      dConv: cfg.d_conv,
      expand: cfg.expand,
      modelType: "full",
      lossType: "CE",
      s5ClipEigs: false,
      mambaScanSlices: slices,
      recompute,
    });
    assert.equal(
      model.store.count,
      t("item_embedding.weight").shape[0] * cfg.hidden_size +
        model.store.specs.slice(1).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0),
    );
    model.store.load(g, path);
    const graph = await model.buildTrain({ batch: B, maxLen: L, mode: "prefix" });
    const dispatches = (label: string) =>
      graph.commands.filter((c) => "label" in c && c.label === label).length;
    assert.equal(dispatches("mamba:scan_bwd"), cfg.num_layers * Math.min(slices, B));
    // forward scans: one per layer, plus the replays of every block but the last (with
    // `recompute: mamba` they keep their scan's output and checkpoints in prefix mode)
    assert.equal(
      dispatches("mamba:scan_fwd_e"),
      cfg.num_layers + (recompute === true ? cfg.num_layers - 1 : 0),
    );
    assert.equal(dispatches("s5:scan_forward"), cfg.num_layers * (recompute === true ? 2 : 1));
    graph.upload({
      size: B,
      count: B,
      maxLen: L,
      itemSeq: t("input.item_seq").data as Int32Array,
      seqLen: t("input.item_seq_len").data as Int32Array,
      timeGaps: Float32Array.from(t("act.dt").data as Float64Array),
      target: t("input.target").data as Int32Array,
      user: new Int32Array(B),
    });
    rt.write(model.step, [1, 1, 0, 0]); // training flag 0: dropout off, as in the golden run
    rt.run(graph.commands);
    const checks: [string, string][] = [
      ["item_emb", "act.item_emb"],
      ["seq_output", "out.seq_output"],
      ["logits", "out.logits"],
    ];
    for (let i = 0; i < cfg.num_layers; i++) {
      for (const a of ["s5_out", "h1", "mamba_out", "out"]) {
        checks.push([`block${i}.${a}`, `act.block${i}.${a}`]);
      }
    }
    const report: string[] = [];
    // Per-position activations are compared at the valid steps only: the Mamba scans skip the
    // right padding (it feeds no loss: every layer is causal) and write 0 there, while the
    // official code computes it. The loss and every gradient below are compared whole.
    const lens = t("input.item_seq_len").data as Int32Array;
    const valid = (x: ArrayLike<number>, w: number) =>
      Float64Array.from(
        x,
        (v, i) => (Math.floor(i / w) % L < lens[Math.floor(i / (w * L))] ? v : 0),
      );
    // The last block's Mamba output and its LayerNorm exist at each row's last valid step only
    // (prefix mode scores nothing else): [B, H], compared with the official rows there.
    const atLast = (x: Float64Array, w: number) =>
      Float64Array.from({ length: B * w }, (_, i) => {
        const b = Math.floor(i / w);
        return x[(b * L + Math.min(Math.max(lens[b], 1), L) - 1) * w + (i % w)];
      });
    for (const [mine, theirs] of checks) {
      const got = await rt.read(graph.activations.get(mine)!);
      const want = t(theirs).data as Float64Array;
      const [, l, w] = t(theirs).shape;
      const lastRows = l === L && w && got.length === B * w;
      if (lastRows) {
        assert.match(mine, new RegExp(`^block${cfg.num_layers - 1}\\.(mamba_out|out)$`));
      }
      const err = lastRows
        ? relErr(got, atLast(want, w))
        : l === L && w
        ? relErr(valid(got.subarray(0, want.length), w), valid(want, w))
        : relErr(got.subarray(0, want.length), want);
      report.push(`${theirs} ${err.toExponential(2)}`);
      assert.ok(err <= 1e-4, `${theirs}: relative L2 error ${err}`);
    }
    const [sum, count] = await rt.read(graph.lossSum) as Float32Array;
    const loss = sum / count;
    const wantLoss = (t("out.loss").data as Float64Array)[0];
    assert.ok(Math.abs(loss - wantLoss) / wantLoss <= 1e-4, `loss ${loss} vs ${wantLoss}`);
    const grads = await model.store.export("grads");
    for (const [name, gt] of grads) {
      const want = t(`grad.${name}`).data as Float64Array;
      const got = gt.data as Float32Array;
      if (name === "LayerNorm.weight" || name === "LayerNorm.bias") {
        assert.ok(got.every((v) => v === 0), `${name} must have zero gradient (unused)`);
        continue;
      }
      const err = relErr(got, want);
      report.push(`grad.${name} ${err.toExponential(2)}`);
      assert.ok(err <= 1e-3, `grad.${name}: relative L2 error ${err}`);
    }
    if (Deno.env.get("PARITY_VERBOSE")) console.log(report.join("\n"));
  });
}

if (files.length === 0) {
  Deno.test({ name: "SS4Rec parity: golden files absent", ignore: true, fn() {} });
}

Deno.test("SS4Rec parameter count for V = 3,417 is 309,184 (incl. the unused top-level LayerNorm)", async () => {
  const rt = new Runtime(await getGpu());
  const model = new SS4Rec(rt, {
    numItems: 3417,
    hiddenSize: 64,
    numLayers: 2,
    dropoutProb: 0.2,
    dP: 32,
    dtMin: 0.001,
    dtMax: 0.1,
    dState: 32,
    dConv: 4,
    expand: 2,
    modelType: "full",
    lossType: "CE",
    s5ClipEigs: false,
  });
  // Lambda and C are complex in PyTorch (counted once each); B is a real [P, H, 2] parameter there
  const complex = model.store.specs.filter((s) => /\.(Lambda|C)$/.test(s.name))
    .reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1) / 2, 0);
  assert.equal(model.store.count - complex, 309_184);
});
