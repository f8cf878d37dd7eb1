// Mamba selective scan (mamba-ssm 2.2.2 `selective_scan_ref` maths), forward and backward, with the
// dt_proj Linear + softplus, the D skip and the silu(z) gate fused in. See lib/nn/mamba.ts for the
// glossary and lib/reference/mamba.ts for the float64 reference. Version 5 (kernels/lab/mamba_v5.wgsl;
// v1..v4 are kept there too). v4: scan_fwd_e stages Bt, Ct, dt_r in workgroup memory per 16 steps,
// scan_bwd's flush rows are padded; v5: the flush sums run in independent chains. H100, B = 1024,
// L = 200, per dispatch: scan_fwd_e 1.48 (v3) -> 0.54 ms, scan_bwd 7.5 (v3/v4) -> 6.3 ms (v5).
// Version 16 (kernels/lab/mamba_v16.wgsl): each flush slot's finaliser runs on its own warp, in
// parallel (v5 walked the FS slots on one set of lanes): scan_bwd −14 % on the H100 (6.15 -> 5.26
// ms, same card and process). v13–v15 and the measurements that led here: kernels/lab/RESULTS.md.
// Version 17 (kernels/lab/mamba_v17.wgsl): scan_bwd stages a chunk's dt_r first and computes Δ from
// workgroup memory (load_chunk_bwd): the Mamba layer 8.80 -> 8.36 ms on the H100.
// Version 19 (kernels/lab/mamba_v19.wgsl): the short fixed-count loops on scan_bwd's flush path
// (the ∂Bt/∂Ct sums over EB, the finaliser's sums over NGR, ∂dt_r and Σ_t ∂dt_proj.weight) and
// the dt_proj dot product of both scans unrolled by hand — the NVIDIA compiler leaves naga's loops
// rolled (the matmul's v7 finding): scan_bwd 1.155 -> 1.052 ms per slice, scan_fwd_e 0.535 ->
// 0.514 ms; the training step 22.18 -> 21.26 ms (H100, same process).
// Version 20 (kernels/lab/mamba_v20.wgsl): exp(Δ·A) as exp2(Δ·A·log2 e) with A·log2 e formed once
// per invocation (no multiply per exponential), and scan_fwd_e loads the next step's xc and z
// while the current step computes: scan_fwd_e −14 % (train 1.531 -> 1.317 ms for 3 dispatches,
// evaluation at B 2,048 1.872 -> 1.598 ms), scan_bwd −1.6 %; the step 20.63 -> 20.31 ms.
// Version 21: bcp bound as vec4s, so each flush sum leaves in one 16-byte store when R and N are
// multiples of 4 (component stores otherwise): scan_bwd 8.316 -> 8.267 ms for the step's 8
// dispatches (−0.6 %, one same-process run).
// Version 22: the scans stop at each row's length (binding 14, the batch's seqLen): the right
// padding feeds no loss, so scan_fwd/scan_fwd_e write y = 0 there and scan_bwd writes 0 gradients
// there without running its chunks. H100, deno task bench (synthetic batches, 80 % of L valid):
// scan_bwd 8.23 -> 7.19 ms per step, the step 19.9 -> 18.8 ms, the ML-1M prefix epoch (59 % valid)
// 19.0 -> 17.9 s (docs/results/h100-2026-11-27-p).
// Version 23: PACKED (define; scan_fwd_e, scan_bwd): the activations hold only the batch's real
// tokens, each row's steps one after another from start[b0 + b] (binding 15, lib/data/batch.ts
// packBatch); each invocation loads its row's start once (prow0). H100, deno task bench: the ML-1M
// prefix epoch 17.4 -> 12.1 s with the rest of the packing (docs/results/h100-2026-11-27-x).
// (v24, v25: rejected lab versions, kernels/lab/.) Version 26: scan_bwd's reverse step forms
// gq = g·q once (∂A sums gq·Δ, ∂Δ sums gq·A + (g·Bt)·xc) and drops its per-step guard (steps past
// a chunk's end are staged as zeros, which makes them identity steps whose partials no flush
// writes): scan_bwd −3.4 % per slice (docs/results/h100-2026-11-27-z/scan_bwd_v26.txt). Version 27: the workgroup arrays the per-step code indexes
// are multi-dimensional with the invocation's own indices (pel, png) innermost: naga clamps every
// dynamic index into a workgroup array, and a clamp of a loop-invariant index is computed once,
// where a clamp of the flattened (step, channel) index was computed at every access: scan_bwd
// −4.3 % more (1.043 -> 0.962 ms per slice; H100, kernels/lab/scan_bwd_bench.ts, same process).
// Version 28: the flush's sums read their EB = 16 (or 32) ∂Bt/∂Ct partials and ≤ 8 per-channel
// partials at constant indices (v19 looped over a loop variable, so every load was clamped):
// scan_bwd 0.958 -> 0.862 ms per slice (−10 %; docs/results/h100-2026-11-27-z/scan_bwd_v28.txt).
// Version 29: the same for the per-chunk ∂dt_r and Σ_t ∂dt_proj.weight sums (EB = 16, HS = 16):
// scan_bwd 0.856 -> 0.811 ms per slice (docs/results/h100-2026-11-27-z/scan_bwd_v29.txt).
// Version 30: each finaliser warp runs its flush slot with a constant slot index (fin_slot):
// scan_bwd 0.816 -> 0.782 ms per slice (docs/results/h100-2026-11-27-z/scan_bwd_v30.txt).
// Version 32: the next chunk's global inputs load into registers while the current chunk
// computes (prefetch_bwd / stage_bwd): scan_bwd 0.783 -> 0.680 ms per slice
// (docs/results/h100-2026-11-27-z/scan_bwd_v32.txt).
// Version 34: the chunk's checkpoint is prefetched with its inputs, and the finaliser's D is loaded
// once per invocation instead of once per flush: scan_bwd 0.682 -> 0.652 ms per slice (scan_bwd_v34.txt).
// (v31, v33, v35: rejected experiments, kernels/lab/RESULTS.md.)
// Version 38 (session 8; v36/v37, subgroup shuffles, are in commit 6a37f1e and were not kept): the
// forward recomputation of a chunk keeps each step's decay exp(Δ·A) for its reverse step (fstd),
// which computed it again: 4 exponentials and 4 multiplies fewer per invocation and step for 16
// more live vec4. scan_bwd 4.748 -> 4.560 and 4.752 -> 4.580 ms per training step (two device
// calls, kernels/lab/kernel_ab.ts, same process; docs/results/h100-2026-11-27-s8/v38, v39), the
// step 15.11 -> 14.90 ms. Keeping Δ and xc as well (16 + 16 scalars) gained nothing more.
// Version 40: where a flush's FS·EB (slot, channel) pairs fit one warp, the last warp finalises
// them all (PACK), instead of one half-empty warp per slot (v16's SPREAD): scan_bwd 4.568 -> 4.426
// ms per step, the step 14.86 -> 14.69 ms (kernel_ab, same process, 3 rounds; .../s8/v40).
// Version 42 (session 9): LAST in scan_bwd too (prefix-mode training's last block: z and ∂y exist
// at each row's last step only, ∂z is written there only; see the defines), with scan_fwd_e LAST
// writing checkpoints: the packed training step 13.32 -> 12.66 ms with the rest of the last-steps-
// only block (docs/results/h100-2026-11-27-s9/last; kernels/lab/RESULTS.md, session 9).
// Version 43 (session 10): LAST scan_bwd walks down without the forward states (bstw): below the
// row's last step tL, where ∂y alone enters, q_t = ∂h_t·a_t·h_{t−1} equals ∂h_{t−1}·h_{t−1}, which
// steps down from ∂h_tL·h_tL by subtracting ∂h_t·Δ_t·xc_t·Bt_t; scan_fwd_e LAST stores that final
// state h_tL ([B, N, E]) instead of the chunk checkpoints. The last block's scan_bwd 646 -> 562 µs
// per slice, its scan_fwd_e 324 -> 286 µs; the packed step 12.31 -> 12.00 ms (H100, deno task
// bench, one device call: docs/results/h100-2026-11-27-s10/w).
// Version 44: SLIM, that LAST scan_bwd's workgroup memory 24 -> 14 KB: its chunks stage Δ, xc,
// softplus′ and Bt alone (gy, the ∂z factor and Ct exist at the last step only: a prologue loads
// them once and writes that step's ∂Ct and ∂z), and the flush slots' (∂Δ, ∂xc) share vec4s. The
// last block's scan_bwd 562 -> 475 µs per slice with the staging alone (slim1/), 466 µs with the
// rest (slim/); the packed step 12.07 -> 11.67 ms, padded 12.82 -> 12.57 (one device call each
// against v43).
// Version 45: SLIM's bcp holds dt_r | Bt only ([M, E/EB, R+N]) and the last steps' ∂Ct partials
// after the slice's rows; bc_reduce LAST writes ∂x_dbl as [M, R+N] plus the last steps' whole rows
// [B, R+2N], and x_proj's backward runs its two products at R + N columns over every step and at
// all R + 2N over the last steps only (lib/nn/mamba.ts). Two device calls against its predecessor
// (docs/results/h100-2026-11-27-s10/xl, xl2): padded step 12.36 -> 12.16 and 12.35 -> 12.17 ms,
// packed 11.39 -> 11.36 and 11.47 -> 11.34 ms, L 50 +0.04 / +0.06 ms (five small dispatches more).
// Version 46 (session 13): a SLIM scan_bwd walks chunks of HB = 8 steps instead of 16 (it needs no
// checkpoints): 13.7 -> 10.5 KB of workgroup memory. On the H100 an SM holds 48 KB of it for these
// kernels (probes with unused workgroup arrays: docs/results/h100-2026-11-27-s13/d13), so the
// kernel runs 4 workgroups per SM instead of 3: the last block's scan_bwd 1535 -> 1453 µs at B
// 1,024 (one slice), the step's 8 scan_bwd dispatches 3.605 -> 3.527 ms (kernel_ab, hb/, h4/).
// Chunks of 4 steps (8.2 KB) are slower (1726 µs: the per-chunk staging and barriers).
// Version 48 (session 14): block 0's scan_bwd (with checkpoints) ran 2 workgroups per SM, held by
// its 24 KB of workgroup memory and by its registers (probes: 12.8 KB alone still 2, without the
// kept decays as well 3; docs/results/h100-2026-11-27-s14/b0s, b0p). With subgroups (define SG) it
// sums each step's ∂Bt/∂Ct over the block's channels in shuffles (sg_bc; sbv goes) and recomputes
// each reverse step's decay (dk): 3 per SM, the step's 8 scan_bwd 3.525 -> 3.368 ms (kernel_ab,
// same process), block 0's slice of 256 full rows 603 -> 570 µs (sgo/). The kept-decay path stays
// for devices without subgroups (and EB < 8).
//
// Version 3 keeps no per-invocation array indexed by a loop variable (the NVIDIA Vulkan compiler
// does not unroll naga's loops and spills such arrays to local memory): each invocation holds 4
// states of one channel as one named vec4 (A, ∂h, ∂A likewise), and scan_bwd's recomputed chunk
// states are 17 named vec4 values of a hand-unrolled 16-step chunk (HS). Sums over n and over e go
// through workgroup memory once per FS steps (scan_bwd) or once per chunk (scan_fwd), never per step.
//
// Defines: E (inner width), N (state), R (dt rank), K (conv width), CH (checkpoint interval in
// steps, ≤ HS = 16), EB (channels per workgroup, divides E), FS (scan_bwd steps per reduction
// flush, divides 16), CKPT (bool: the forward scans store the checkpoints; false in a forward-only
// build, whose ckpt binding is then a placeholder), LAST (bool: the block's output is needed at
// each row's last valid step only — the last block in evaluation and in prefix-mode training (v42);
// scan_fwd_e: y is [B, E], the output at those steps; both scans: binding 1 holds the gate z at
// those steps only, [B, E], since no other step's z is read; scan_bwd: dy (binding 8) is [B, E],
// ∂y at those steps (it is 0 at every other), and ∂z goes to binding 11 as [B, E]; with CKPT, ckpt
// holds the state after each row's last step, and scan_bwd walks down without checkpoints, v43),
// SLIM (bool: set for a LAST scan_bwd only, v44: the staging and workgroup arrays it needs; see
// BCH), SG (bool, v48: the device has subgroups whose consecutive lanes hold whole blocks of
// 8 ≤ EB ≤ 32 invocations; see SGB). Params: nb = B, len = L, b0 = the dispatch's first row in
// lens. Rows are m = b·L + t.
//
// Work split (both scans): workgroup (blk, b) owns channels e = blk·EB + el, el < EB, of row b; its
// T = EB·NGR invocations lid = ng·EB + el each hold the states n = 4·ng .. 4·ng + 3 of channel e
// (N padded to NP = 4·NGR with A = Bt = Ct = 0, so the padding states stay 0). Per chunk of CH steps
// the chunk's inputs (Δ, xc, gate factor, softplus′, Bt, Ct, dt_r) are staged in workgroup memory
// once; steps past the chunk's end are staged as zeros, which makes them identity steps.
//
// Memory plan (no B·L·E·N tensor): scan_fwd stores the state entering every chunk of CH steps,
// ckpt [B, ceil(L/CH), N, E] (e fastest: coalesced; LAST: [B, N, E], the state after each row's
// last step, v43). scan_bwd walks the chunks in reverse,
// recomputes the chunk's states from its checkpoint, then runs the reverse recurrence over them.
// Sums over e of the workgroup's EB channels go to bcp [B·L, E/EB, R+2N]; conv1d.wgsl:bc_reduce
// adds the E/EB block partials into dxdbl.
//
// Bindings (all read_write so views of the flat parameter/gradient buffers may share a dispatch):
//   1 xz [M, 2E] (z = columns E..2E−1)   2 xc [M, E]          3 xdbl [M, R+2N] = [dt_r | Bt | Ct]
//   4 dtw [E, R]   5 dtb [E]   6 alog [E, N]   7 dsk [E] (D)
//   8 yb: y [M, E] (scan_fwd output) / dy [M, E] (scan_bwd input)    9 ckpt [B, NC, N, E] (LAST: [B, N, E])
//   scan_bwd only: 10 dxc [M, E] (overwritten)  11 dxz [M, 2E] (columns E..2E−1 overwritten; LAST:
//                  ∂z [B, E])
//                  12 part [B, E, JP] (columns 0..N+R+1 written)  13 bcp [M, E/EB, R+2N] (written;
//                  bound as vec4s, its binding padded to 16 bytes; SLIM: [M, E/EB, R+N], then the
//                  last steps' ∂Ct partials [nb, E/EB, N])

struct Params { nb: u32, len: u32, b0: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> xz: array<f32>;
@group(0) @binding(2) var<storage, read_write> xc: array<f32>;
@group(0) @binding(3) var<storage, read_write> xdbl: array<f32>;
@group(0) @binding(4) var<storage, read_write> dtw: array<f32>;
@group(0) @binding(5) var<storage, read_write> dtb: array<f32>;
@group(0) @binding(6) var<storage, read_write> alog: array<f32>;
@group(0) @binding(7) var<storage, read_write> dsk: array<f32>;
@group(0) @binding(8) var<storage, read_write> yb: array<f32>;
@group(0) @binding(9) var<storage, read_write> ckpt: array<f32>;
@group(0) @binding(10) var<storage, read_write> dxc: array<f32>;
@group(0) @binding(11) var<storage, read_write> dxz: array<f32>;
@group(0) @binding(12) var<storage, read_write> part: array<f32>;
@group(0) @binding(13) var<storage, read_write> bcp: array<vec4<f32>>; // v21: vec4 (16-byte stores)
// [B] valid steps per row (the whole batch: row b of a slice is p.b0 + b). Steps from it on are
// padding that no loss reads (every layer is causal): the scans skip them and write 0 there.
@group(0) @binding(14) var<storage, read_write> lens: array<i32>;
// v23, PACKED (scan_fwd_e, scan_bwd): the batch's tokens are packed (lib/data/batch.ts packBatch):
// step t of row b0 + b is row start[b0 + b] + t of the [T, ·] activations (bound whole, not as the
// slice's views), there are no padding rows at all; bcp keeps the slice's padded layout.
@group(0) @binding(15) var<storage, read_write> start: array<i32>;

// #include "subgroup"

const J: u32 = R + 2u * N;
const LOG2E: f32 = 1.4426950408889634;
// partial-sum columns per (b, e): dA_log (N) | dD | dt_proj.weight (R) | dt_proj.bias | conv w (K) | conv b
const JS: u32 = N + R + 2u;
const NGR: u32 = (N + 3u) / 4u; // invocations per channel
const T: u32 = EB * NGR; // workgroup size
const NEB: u32 = E / EB; // channel blocks
const EP: u32 = EB + 1u; // padded row (bank conflicts)
const HS: u32 = 16u; // unrolled chunk length of scan_bwd (CH ≤ HS)
// v46: the chunk length the workgroup arrays and staging hold: HS, or 8 in a SLIM scan_bwd, whose
// chunks need no checkpoints (it walks down from the final state) — 10.5 KB of workgroup memory
// instead of 13.7, so 4 workgroups fit an SM's 48 KB (H100: 3 before)
const HB: u32 = select(HS, 8u, SLIM);
// scan_bwd's chunk of steps: CH (the checkpoint interval), or HB in a SLIM scan_bwd
const CB: u32 = select(CH, HB, SLIM);
// v16: one finaliser lane set per flush slot when there are warps to spare (EB ≤ 32, FS + 1 ≤ T/32)
const SPREAD: bool = EB <= 32u && T >= 32u * (FS + 1u);
// v40: when the FS slots' EB channels fit one warp (FS·EB ≤ 32) the last warp finalises all of
// them at once, lane l taking slot l / EB, channel l % EB (v16 gave each slot its own half-empty
// warp: twice the finaliser instructions)
const PACK: bool = FS * EB <= 32u && T >= 64u;

// The channel (within the block) of finaliser lane lid, in each finaliser layout (PACK: the last
// warp, slot l / EB; SPREAD: warp W − 1 − s for slot s; else the last EB lanes walk the slots).
fn fin_channel(lid: u32) -> u32 {
  if (PACK) { return (lid - (T - 32u)) % EB; }
  if (SPREAD) { return lid % 32u; }
  return lid - (T - EB);
}
var<workgroup> sfin: array<vec2<f32>, FS * EB>; // per-slot (∂D, ∂dt_bias) partials at the end

// SLIM (v44: scan_bwd of a LAST build; false for every other entry point): gy, the ∂z factor and
// Ct exist at the row's last step only, so the chunks stage Δ, xc, softplus′ and Bt alone, and
// those last-step values are loaded once (slast, pct); the workgroup needs ~16 KB instead of ~24
// (more workgroups per SM).
const BCH: u32 = select(2u, 1u, SLIM); // staged x_dbl halves per step: Bt | Ct, or Bt alone
// bcp columns per (step, channel block): dt_r | Bt | Ct, or SLIM dt_r | Bt (the last steps' ∂Ct
// partials follow the slice's rows as [nb, NEB, N])
const JB: u32 = select(J, R + N, SLIM);
// chunk inputs: sh_in[k·QS + q][el], q = 0: Δ, 1: xc, 2: gy = dy·silu(z), 3: softplus′,
// 4: ∂y/∂z factor dy·σ(z)·(1 + z·(1 − σ(z))) (so the per-flush finalisers read no global memory);
// SLIM: 0: Δ, 1: xc, 2: softplus′
const QS: u32 = select(5u, 3u, SLIM);
const Q_DS: u32 = select(3u, 2u, SLIM);
var<workgroup> sh_in: array<array<f32, EB>, HB * QS>;
var<workgroup> sh_bc: array<array<vec4<f32>, NGR>, HB * BCH>; // [k][Bt | Ct][ng]
var<workgroup> slast: array<f32, EB>; // SLIM: gy at the row's last step
var<private> pgy: f32; // SLIM: gy of the invocation's channel at the row's last step
var<private> pct: vec4<f32>; // SLIM: Ct of its 4 states there
var<workgroup> sh_dtr: array<array<f32, R>, HB>;
var<workgroup> sh_w: array<array<f32, R>, EB>;
// v48, SGB: a scan_bwd with checkpoints (not SLIM) on a device with subgroups (define SG) sums each
// step's ∂Bt/∂Ct partials over the block's EB channels in subgroup shuffles (sg_bc: the EB lanes of
// a state group are consecutive lanes of one subgroup) and stores the sums to bcp itself, so the
// flush has no ∂Bt/∂Ct sums and sbv shrinks to a placeholder; and it recomputes each reverse
// step's decay exp(Δ·A) instead of keeping the chunk's 16 (v38's KEEPD). Both to fit 3 workgroups
// per SM instead of 2 (H100: 48 KB of workgroup memory per SM, and the registers; session 14).
const SGB: bool = SG && !SLIM;
const KEEPD: bool = !SGB;
const SBS: u32 = select(FS * BCH, 1u, SGB);
const SBN: u32 = select(NGR, 1u, SGB);
// [slot][∂Bt | ∂Ct][ng][el], rows padded to EP vec4 (the flush reads down a column: v4 padding)
var<workgroup> sbv: array<array<array<vec4<f32>, EP>, SBN>, SBS>;
// [slot][ng][el] (yss, ∂Δ, ∂xc) partials; SLIM: (∂Δ, ∂xc) of slot s in components 2·(s % 2) and
// 2·(s % 2) + 1 of entry s / 2 (yss is needed at the last step only: the prologue sums it)
const SNS: u32 = select(FS, (FS + 1u) / 2u, SLIM);
var<workgroup> snv: array<array<array<vec4<f32>, EB>, NGR>, SNS>;
var<workgroup> cgs: array<array<f32, EP>, HB>; // [k][el] ∂loss/∂(Δ pre-activation)
var<workgroup> sgw: array<f32, EB * R>; // [el][r] Σ_t ∂dt_proj.weight
var<workgroup> sy: array<f32, HB * NGR * EB>; // scan_fwd: [k][ng][el] partial Σ_n Ct·h

// per-invocation constants (registers)
var<private> pb: u32;
var<private> prow0: u32;
var<private> pblk: u32;
var<private> pel: u32;
var<private> png: u32;
var<private> pa: vec4<f32>;
var<private> pal: vec4<f32>; // pa · log2(e): exp(Δ·A) = exp2(Δ·pal) (v20: no multiply per exp)
var<private> pt0: u32;
var<private> pt1: u32;
var<private> ptl: u32; // scan_bwd: the row's valid steps (LAST: its last step ptl − 1 alone has ∂y)
var<workgroup> wlen: u32;

struct BwdState { dh: vec4<f32>, ga: vec4<f32> }

fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

// torch softplus (threshold 20); log1p through Goldberg's trick, since Δ ≈ exp(x) for x ≪ 0 and a
// plain log(1 + exp(x)) would flush it to 0.
fn softplus(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  let ex = exp(x);
  let u = 1.0 + ex;
  if (u == 1.0) { return ex; }
  return log(u) * ex / (u - 1.0);
}

fn nchunks() -> u32 { return (p.len + CH - 1u) / CH; }

// The activation row of step 0 of row b of the dispatch: b·L, or start[b0 + b] when the tokens
// are PACKED. Each entry point keeps its row's in `prow0` (one load, not one per step): step t is
// row prow0 + t.
fn row_base(b: u32) -> u32 {
  if (PACKED) { return u32(start[p.b0 + b]); }
  return b * p.len;
}

// Valid steps of row b of this dispatch (lens clamped to 0..L), uniform across the workgroup.
fn row_len(lid: u32, b: u32) -> u32 {
  if (lid == 0u) { wlen = u32(clamp(lens[p.b0 + b], 0, i32(p.len))); }
  return workgroupUniformLoad(&wlen);
}

fn dt_pre(m: u32, e: u32) -> f32 {
  var s = dtb[e];
  for (var r = 0u; r < R; r++) { s += xdbl[m * J + r] * dtw[e * R + r]; }
  return s;
}

fn xd(i: u32, n: u32) -> f32 {
  if (n < N) { return xdbl[i]; }
  return 0.0;
}

fn alog4(e: u32, n0: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (n0 < N) { v.x = -exp(alog[e * N + n0]); }
  if (n0 + 1u < N) { v.y = -exp(alog[e * N + n0 + 1u]); }
  if (n0 + 2u < N) { v.z = -exp(alog[e * N + n0 + 2u]); }
  if (n0 + 3u < N) { v.w = -exp(alog[e * N + n0 + 3u]); }
  return v;
}

// ckpt[base + n·E] for the invocation's 4 states (n ≥ N read as 0 / not written)
fn ck_load(base: u32) -> vec4<f32> {
  let n0 = png * 4u;
  var v = vec4<f32>(0.0);
  if (n0 < N) { v.x = ckpt[base]; }
  if (n0 + 1u < N) { v.y = ckpt[base + E]; }
  if (n0 + 2u < N) { v.z = ckpt[base + 2u * E]; }
  if (n0 + 3u < N) { v.w = ckpt[base + 3u * E]; }
  return v;
}

fn ck_store(base: u32, v: vec4<f32>) {
  let n0 = png * 4u;
  if (n0 < N) { ckpt[base] = v.x; }
  if (n0 + 1u < N) { ckpt[base + E] = v.y; }
  if (n0 + 2u < N) { ckpt[base + 2u * E] = v.z; }
  if (n0 + 3u < N) { ckpt[base + 3u * E] = v.w; }
}

// scan_bwd without SLIM: the gate z and ∂y of row m, channel e (a LAST scan_bwd is SLIM: it reads
// them at the last step only, in its prologue)
fn z_dy(m: u32, e: u32) -> vec2<f32> {
  return vec2<f32>(xz[m * 2u * E + E + e], yb[m * E + e]);
}

// The gate's factors for gate z and output gradient dy: gy = dy·silu(z) (∂y through the gate) and
// dy·σ(z)·(1 + z·(1 − σ(z))) (∂z per unit of the pre-gate output).
fn gate_grads(z: f32, dy: f32) -> vec2<f32> {
  let sz = sigmoid(z);
  return vec2<f32>(dy * z * sz, dy * sz * (1.0 + z * (1.0 - sz)));
}

// softplus′ at its pre-activation s (torch's threshold 20, as softplus)
fn softplus_d(s: f32) -> f32 {
  if (s <= 20.0) { return sigmoid(s); }
  return 1.0;
}

// Stages the inputs of steps t0 + k, k < KS, of row pb (zeros where t ≥ t1).
fn load_chunk(lid: u32, t0: u32, t1: u32, KS: u32, bwd: bool) {
  for (var i = lid; i < KS * EB; i += T) {
    let k = i / EB;
    let el = i % EB;
    let t = t0 + k;
    var dl = 0.0;
    var u = 0.0;
    var gy = 0.0;
    var ds = 0.0;
    var gz = 0.0;
    if (t < t1) {
      let e = pblk * EB + el;
      let m = prow0 + t;
      let s = dt_pre(m, e);
      dl = softplus(s);
      u = xc[m * E + e];
      if (bwd) { ds = softplus_d(s); }
      if (bwd && !SLIM) {
        let zy = z_dy(m, e);
        let gg = gate_grads(zy.x, zy.y);
        gy = gg.x;
        gz = gg.y;
      }
    }
    sh_in[k * QS][el] = dl;
    sh_in[k * QS + 1u][el] = u;
    sh_in[k * QS + Q_DS][el] = ds;
    if (!SLIM) {
      sh_in[k * QS + 2u][el] = gy;
      sh_in[k * QS + 4u][el] = gz;
    }
  }
  for (var i = lid; i < KS * BCH * NGR; i += T) { sh_bc[i / NGR][i % NGR] = bc_item(i, t0, t1); }
  if (bwd) {
    for (var i = lid; i < KS * R; i += T) { sh_dtr[i / R][i % R] = dtr_item(i, t0, t1); }
  }
}

// The 4 states n0 .. n0 + 3 of a Bt or Ct row starting at x_dbl[base] (n ≥ N read as 0).
fn bc4(base: u32, n0: u32) -> vec4<f32> {
  return vec4<f32>(xd(base + n0, n0), xd(base + n0 + 1u, n0 + 1u), xd(base + n0 + 2u, n0 + 2u), xd(base + n0 + 3u, n0 + 3u));
}

// Bt (c < NGR) or Ct vec4 item i of the chunk of steps t0 .. (staging layout [k][Bt | Ct][ng];
// SLIM: [k][Bt][ng]; zeros past step t1 and past HB steps; states n ≥ N read as 0).
fn bc_item(i: u32, t0: u32, t1: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (i >= HB * BCH * NGR) { return v; }
  let k = i / (BCH * NGR);
  let c = i % (BCH * NGR);
  let half = c / NGR;
  let n0 = (c % NGR) * 4u;
  let t = t0 + k;
  if (t < t1) { v = bc4((prow0 + t) * J + R + half * N, n0); }
  return v;
}

// dt_r item i (step t0 + i / R, column i % R) of the chunk; 0 past step t1.
fn dtr_item(i: u32, t0: u32, t1: u32) -> f32 {
  let t = t0 + i / R;
  if (t >= t1) { return 0.0; }
  return xdbl[(prow0 + t) * J + i % R];
}

// scan_bwd's (step, channel) items lid and lid + T of the chunk (at most two when T ≥ HB·EB/2):
// their xc, z and dy into registers (0 past step t1).
var<private> qu0: f32;
var<private> qz0: f32;
var<private> qy0: f32;
var<private> qu1: f32;
var<private> qz1: f32;
var<private> qy1: f32;

fn load_items(lid: u32, t0: u32, t1: u32) {
  qu0 = 0.0;
  qz0 = 0.0;
  qy0 = 0.0;
  qu1 = 0.0;
  qz1 = 0.0;
  qy1 = 0.0;
  let e0 = pblk * EB + lid % EB;
  let ta = t0 + lid / EB;
  let tb = t0 + (lid + T) / EB;
  if (lid < HB * EB && ta < t1) {
    let m = prow0 + ta;
    qu0 = xc[m * E + e0];
    var zy = vec2<f32>(0.0);
    if (!SLIM) { zy = z_dy(m, e0); }
    qz0 = zy.x;
    qy0 = zy.y;
  }
  if (lid + T < HB * EB && tb < t1) {
    let m = prow0 + tb;
    qu1 = xc[m * E + e0];
    var zy = vec2<f32>(0.0);
    if (!SLIM) { zy = z_dy(m, e0); }
    qz1 = zy.x;
    qy1 = zy.y;
  }
}

// The items' chunk inputs into sh_in, with Δ's pre-activation from workgroup memory (sh_dtr ·
// sh_w, staged before this is called) instead of R global loads of x_dbl and dt_proj.weight each.
fn stage_items(lid: u32, t0: u32, t1: u32) {
  for (var j = 0u; j < 2u; j++) {
    let i = lid + j * T;
    if (i >= HB * EB) { continue; }
    let k = i / EB;
    let el = i % EB;
    let t = t0 + k;
    var dl = 0.0;
    var u = 0.0;
    var gy = 0.0;
    var ds = 0.0;
    var gz = 0.0;
    if (t < t1) {
      var s = dtb[pblk * EB + el];
      var r = 0u;
      for (; r + 4u <= R; r += 4u) { // v19: by 4
        s += sh_dtr[k][r] * sh_w[el][r] + sh_dtr[k][r + 1u] * sh_w[el][r + 1u] +
          sh_dtr[k][r + 2u] * sh_w[el][r + 2u] + sh_dtr[k][r + 3u] * sh_w[el][r + 3u];
      }
      for (; r < R; r++) { s += sh_dtr[k][r] * sh_w[el][r]; }
      dl = softplus(s);
      u = select(qu1, qu0, j == 0u);
      let gg = gate_grads(select(qz1, qz0, j == 0u), select(qy1, qy0, j == 0u));
      gy = gg.x;
      gz = gg.y;
      ds = softplus_d(s);
    }
    sh_in[k * QS][el] = dl;
    sh_in[k * QS + 1u][el] = u;
    sh_in[k * QS + Q_DS][el] = ds;
    if (!SLIM) {
      sh_in[k * QS + 2u][el] = gy;
      sh_in[k * QS + 4u][el] = gz;
    }
  }
}

// v17: scan_bwd's chunk staging: Bt, Ct and dt_r first (one barrier), then the per-(step, channel)
// inputs (stage_items); xc, z, dy are loaded before the barrier so the two rounds of loads overlap.
fn load_chunk_bwd(lid: u32, t0: u32, t1: u32) {
  for (var i = lid; i < HB * BCH * NGR; i += T) { sh_bc[i / NGR][i % NGR] = bc_item(i, t0, t1); }
  for (var i = lid; i < HB * R; i += T) { sh_dtr[i / R][i % R] = dtr_item(i, t0, t1); }
  load_items(lid, t0, t1);
  workgroupBarrier();
  stage_items(lid, t0, t1);
}

// v32: the next chunk's global inputs go to registers while the current chunk computes (scan_bwd
// walks the chunks in reverse, so the loads of chunk c − 1 overlap the work on chunk c), then into
// workgroup memory at the chunk's start. Used when each invocation has at most 4 Bt/Ct vec4, one
// dt_r and two (step, channel) items (PF), else load_chunk_bwd / load_chunk.
const PF: bool = HB * 2u * NGR <= 4u * T && HB * R <= T && 2u * T >= HB * EB;
var<private> qbc0: vec4<f32>;
var<private> qbc1: vec4<f32>;
var<private> qbc2: vec4<f32>;
var<private> qbc3: vec4<f32>;
var<private> qdtr: f32;
var<private> qck: vec4<f32>; // v34: the next chunk's checkpoint
var<private> pfd: f32; // v34: D of the finaliser lane's channel (loaded once)

fn prefetch_bwd(lid: u32, t0: u32, t1: u32, ckb: u32) {
  if (!LAST) { qck = ck_load(ckb); }
  qbc0 = bc_item(lid, t0, t1);
  qbc1 = bc_item(lid + T, t0, t1);
  qbc2 = bc_item(lid + 2u * T, t0, t1);
  qbc3 = bc_item(lid + 3u * T, t0, t1);
  qdtr = 0.0;
  if (lid < HB * R) { qdtr = dtr_item(lid, t0, t1); }
  load_items(lid, t0, t1);
}

fn stage_bwd(lid: u32, t0: u32, t1: u32) {
  if (lid < HB * BCH * NGR) { sh_bc[lid / NGR][lid % NGR] = qbc0; }
  if (lid + T < HB * BCH * NGR) { sh_bc[(lid + T) / NGR][(lid + T) % NGR] = qbc1; }
  if (lid + 2u * T < HB * BCH * NGR) { sh_bc[(lid + 2u * T) / NGR][(lid + 2u * T) % NGR] = qbc2; }
  if (lid + 3u * T < HB * BCH * NGR) { sh_bc[(lid + 3u * T) / NGR][(lid + 3u * T) % NGR] = qbc3; }
  if (lid < HB * R) { sh_dtr[lid / R][lid % R] = qdtr; }
  workgroupBarrier();
  stage_items(lid, t0, t1);
}

// One step of the recurrence for the invocation's 4 states: h ← exp(ΔA)·h + Δ·xc·Bt.
fn fst(k: u32, h: vec4<f32>) -> vec4<f32> {
  let dl = sh_in[k * QS][pel];
  let u = sh_in[k * QS + 1u][pel];
  return exp2(dl * pal) * h + (dl * u) * sh_bc[k * 2u][png];
}

@compute @workgroup_size(T)
fn scan_fwd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  pblk = wid.x;
  pb = wid.y;
  prow0 = row_base(pb);
  pel = lid % EB;
  png = lid / EB;
  let e = pblk * EB + pel;
  pa = alog4(e, png * 4u);
  pal = pa * LOG2E;
  var h = vec4<f32>(0.0);
  let nc = nchunks();
  let tl = row_len(lid, pb);
  for (var ci = 0u; ci < (tl + CH - 1u) / CH; ci++) {
    let t0 = ci * CH;
    let t1 = min(t0 + CH, tl);
    load_chunk(lid, t0, t1, CH, false);
    workgroupBarrier();
    if (CKPT) { ck_store(((pb * nc + ci) * N + png * 4u) * E + e, h); }
    for (var k = 0u; k < t1 - t0; k++) {
      h = fst(k, h);
      sy[(k * NGR + png) * EB + pel] = dot(sh_bc[k * 2u + 1u][png], h);
    }
    workgroupBarrier();
    for (var i = lid; i < CH * EB; i += T) {
      let k = i / EB;
      let el = i % EB;
      let t = t0 + k;
      if (t < t1) {
        let e2 = pblk * EB + el;
        let m = pb * p.len + t;
        var acc = dsk[e2] * sh_in[k * QS + 1u][el];
        for (var g = 0u; g < NGR; g++) { acc += sy[(k * NGR + g) * EB + el]; }
        let z = xz[m * 2u * E + E + e2];
        yb[m * E + e2] = acc * z * sigmoid(z);
      }
    }
    workgroupBarrier();
  }
  for (var i = lid; i < (p.len - tl) * EB; i += T) {
    yb[(pb * p.len + tl + i / EB) * E + pblk * EB + i % EB] = 0.0;
  }
}

// Forward with one invocation per (b, e) holding all N ≤ 32 states as 8 named vec4 values (only
// the first NGR are live; the rest fold away). The 64 invocations of a workgroup share b: per HB
// steps they stage that row's Bt, Ct and dt_r in workgroup memory (v4; v3 read them from global
// memory every step). Dispatch [ceil(E/64), B].
fn ck_store_n(base: u32, n0: u32, v: vec4<f32>) {
  if (n0 < N) { ckpt[base + n0 * E] = v.x; }
  if (n0 + 1u < N) { ckpt[base + (n0 + 1u) * E] = v.y; }
  if (n0 + 2u < N) { ckpt[base + (n0 + 2u) * E] = v.z; }
  if (n0 + 3u < N) { ckpt[base + (n0 + 3u) * E] = v.w; }
}

// scan_fwd_e: a channel's N ≤ 32 states (h0 .. h7, 4 each) to ckpt[base + n·E]
fn ck_store_states(base: u32, h0: vec4<f32>, h1: vec4<f32>, h2: vec4<f32>, h3: vec4<f32>,
                   h4: vec4<f32>, h5: vec4<f32>, h6: vec4<f32>, h7: vec4<f32>) {
  if (NGR > 0u) { ck_store_n(base, 0u, h0); }
  if (NGR > 1u) { ck_store_n(base, 4u, h1); }
  if (NGR > 2u) { ck_store_n(base, 8u, h2); }
  if (NGR > 3u) { ck_store_n(base, 12u, h3); }
  if (NGR > 4u) { ck_store_n(base, 16u, h4); }
  if (NGR > 5u) { ck_store_n(base, 20u, h5); }
  if (NGR > 6u) { ck_store_n(base, 24u, h6); }
  if (NGR > 7u) { ck_store_n(base, 28u, h7); }
}

fn bcs(k: u32, half: u32, g: u32) -> vec4<f32> { return sh_bc[k * 2u + half][g]; }

@compute @workgroup_size(64)
fn scan_fwd_e(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let e = wid.x * 64u + lid;
  let b = wid.y;
  prow0 = row_base(b);
  let live = e < E;
  let ec = min(e, E - 1u);
  let a0 = alog4(ec, 0u) * LOG2E;
  let a1 = alog4(ec, 4u) * LOG2E;
  let a2 = alog4(ec, 8u) * LOG2E;
  let a3 = alog4(ec, 12u) * LOG2E;
  let a4 = alog4(ec, 16u) * LOG2E;
  let a5 = alog4(ec, 20u) * LOG2E;
  let a6 = alog4(ec, 24u) * LOG2E;
  let a7 = alog4(ec, 28u) * LOG2E;
  var h0 = vec4<f32>(0.0);
  var h1 = vec4<f32>(0.0);
  var h2 = vec4<f32>(0.0);
  var h3 = vec4<f32>(0.0);
  var h4 = vec4<f32>(0.0);
  var h5 = vec4<f32>(0.0);
  var h6 = vec4<f32>(0.0);
  var h7 = vec4<f32>(0.0);
  let bias = dtb[ec];
  let dd = dsk[ec];
  var w4 = vec4<f32>(0.0);
  if (R == 4u) { w4 = vec4<f32>(dtw[ec * 4u], dtw[ec * 4u + 1u], dtw[ec * 4u + 2u], dtw[ec * 4u + 3u]); }
  let nc = nchunks();
  let tl = row_len(lid, b);
  for (var t0 = 0u; t0 < tl; t0 += HB) {
    // stage Bt, Ct (padded to NGR vec4 each, zeros past N) and dt_r of steps t0 .. t0 + HB − 1
    workgroupBarrier();
    // (inline rather than through bc_item / dtr_item: 1–3 % faster in scan_fwd_e on the H100,
    // docs/results/h100-2026-11-27-z/review_refactor_ab*.txt)
    for (var i = lid; i < HB * 2u * NGR; i += 64u) {
      let k = i / (2u * NGR);
      let c = i % (2u * NGR);
      var v = vec4<f32>(0.0);
      if (t0 + k < tl) { v = bc4((prow0 + t0 + k) * J + R + (c / NGR) * N, (c % NGR) * 4u); }
      sh_bc[i / NGR][i % NGR] = v;
    }
    for (var i = lid; i < HB * R; i += 64u) {
      let t = t0 + i / R;
      var v = 0.0;
      if (t < tl) { v = xdbl[(prow0 + t) * J + i % R]; }
      sh_dtr[i / R][i % R] = v;
    }
    workgroupBarrier();
    if (live) {
      let kn = min(HB, tl - t0);
      // v20: the next step's u and z are loaded while this step computes
      let m0 = prow0 + t0;
      var un = xc[m0 * E + e];
      var zn = 0.0;
      if (!LAST) { zn = xz[m0 * 2u * E + E + e]; }
      for (var k = 0u; k < kn; k++) {
        let t = t0 + k;
        if (CKPT && !LAST && t % CH == 0u) {
          ck_store_states(((b * nc + t / CH) * N) * E + e, h0, h1, h2, h3, h4, h5, h6, h7);
        }
        let m = prow0 + t;
        let u = un;
        let z = zn;
        if (k + 1u < kn) {
          let mn = prow0 + t + 1u;
          un = xc[mn * E + e];
          if (!LAST) { zn = xz[mn * 2u * E + E + e]; }
        }
        var sp = bias;
        if (R == 4u) {
          // v19: the channel's 4 dt_proj weights held in registers (w4), no loop per step
          sp += dot(vec4<f32>(sh_dtr[k][0], sh_dtr[k][1u % R], sh_dtr[k][2u % R], sh_dtr[k][3u % R]), w4);
        } else {
          for (var r = 0u; r < R; r++) { sp += sh_dtr[k][r] * dtw[e * R + r]; }
        }
        let dl = softplus(sp);
        let du = dl * u;
        if (NGR > 0u) { h0 = exp2(dl * a0) * h0 + du * bcs(k, 0u, 0u); }
        if (NGR > 1u) { h1 = exp2(dl * a1) * h1 + du * bcs(k, 0u, 1u); }
        if (NGR > 2u) { h2 = exp2(dl * a2) * h2 + du * bcs(k, 0u, 2u); }
        if (NGR > 3u) { h3 = exp2(dl * a3) * h3 + du * bcs(k, 0u, 3u); }
        if (NGR > 4u) { h4 = exp2(dl * a4) * h4 + du * bcs(k, 0u, 4u); }
        if (NGR > 5u) { h5 = exp2(dl * a5) * h5 + du * bcs(k, 0u, 5u); }
        if (NGR > 6u) { h6 = exp2(dl * a6) * h6 + du * bcs(k, 0u, 6u); }
        if (NGR > 7u) { h7 = exp2(dl * a7) * h7 + du * bcs(k, 0u, 7u); }
        // LAST: only the row's last valid step has an output (yb is [B, E])
        if (LAST && t + 1u != tl) { continue; }
        var acc = dd * u;
        if (NGR > 0u) { acc += dot(bcs(k, 1u, 0u), h0); }
        if (NGR > 1u) { acc += dot(bcs(k, 1u, 1u), h1); }
        if (NGR > 2u) { acc += dot(bcs(k, 1u, 2u), h2); }
        if (NGR > 3u) { acc += dot(bcs(k, 1u, 3u), h3); }
        if (NGR > 4u) { acc += dot(bcs(k, 1u, 4u), h4); }
        if (NGR > 5u) { acc += dot(bcs(k, 1u, 5u), h5); }
        if (NGR > 6u) { acc += dot(bcs(k, 1u, 6u), h6); }
        if (NGR > 7u) { acc += dot(bcs(k, 1u, 7u), h7); }
        if (LAST) {
          let zl = xz[b * E + e]; // LAST: binding 1 holds z at the last steps only, [B, E]
          yb[b * E + e] = acc * zl * sigmoid(zl);
          continue;
        }
        yb[m * E + e] = acc * z * sigmoid(z);
      }
    }
  }
  if (live && LAST && tl == 0u) { yb[b * E + e] = 0.0; }
  // LAST with CKPT (v43): scan_bwd needs the state after the row's last step only, [B, N, E]
  // (0 for an empty row)
  if (live && LAST && CKPT) { ck_store_states(b * N * E + e, h0, h1, h2, h3, h4, h5, h6, h7); }
  // the right padding's outputs are 0 (PACKED: there is none; those rows are other rows' steps)
  if (live && !LAST && !PACKED) {
    for (var t = tl; t < p.len; t++) { yb[(b * p.len + t) * E + e] = 0.0; }
  }
}

// v38: scan_bwd's forward recomputation keeps each step's decay exp(Δ·A) (da) for the reverse
// step, which used to compute it again (16 more live vec4 per invocation: scan_bwd sits at 2
// workgroups per SM, held by registers, with room below the 255 cap).
fn fstd(k: u32, h: vec4<f32>, da: ptr<function, vec4<f32>>) -> vec4<f32> {
  let dl = sh_in[k * QS][pel];
  let u = sh_in[k * QS + 1u][pel];
  *da = exp2(dl * pal);
  return *da * h + (dl * u) * sh_bc[k * 2u][png];
}

// v48, SGB: step k's ∂Bt (pb4) and ∂Ct (pc4) partials of states 4·png .. 4·png + 3, summed over
// the block's EB channels — lanes pel = 0 .. EB − 1 of one subgroup — by a reduce-scatter in fixed
// lane order (deterministic): each round halves what a lane keeps and adds its partner's other
// half, so after log2(8) rounds lane pel holds sum number 4·h1 + 2·h2 + h3 of the 8 (h = pel's
// bits EB/2, EB/4, EB/8), and the rounds left (EB > 8) add whole values. The lanes with
// pel % (EB/8) = 0 store their sum to bcp (R + half·N + state; states ≥ N are padding).
fn sg_bc(k: u32, pb4: vec4<f32>, pc4: vec4<f32>) {
  // (max(·, 1u): valid constants where EB < 8, a build without SG)
  let m1 = max(EB / 2u, 1u);
  let m2 = max(EB / 4u, 1u);
  let m3 = max(EB / 8u, 1u);
  let h1 = (pel & m1) != 0u;
  let h2 = (pel & m2) != 0u;
  let h3 = (pel & m3) != 0u;
  let v4 = select(pb4, pc4, h1) + sg_xor4(select(pc4, pb4, h1), m1);
  let v2 = select(v4.xy, v4.zw, h2) + sg_xor2(select(v4.zw, v4.xy, h2), m2);
  var v1 = select(v2.x, v2.y, h3) + sg_xor1(select(v2.y, v2.x, h3), m3);
  if (m3 >= 2u) { v1 += sg_xor1(v1, max(m3 / 2u, 1u)); }
  if (m3 >= 4u) { v1 += sg_xor1(v1, max(m3 / 4u, 1u)); }
  let t = pt0 + k;
  let n = png * 4u + select(0u, 2u, h2) + select(0u, 1u, h3);
  if (t < pt1 && pel % m3 == 0u && n < N) {
    let o = ((pb * p.len + t) * NEB + pblk) * JB + R + select(0u, N, h1) + n;
    bcp[o >> 2u][o & 3u] = v1;
  }
}

// The decay of step k: the one fstd kept (KEEPD, v38), or computed again (v48, SGB: 64 registers
// fewer per invocation)
fn dk(k: u32, kept: vec4<f32>) -> vec4<f32> {
  if (KEEPD) { return kept; }
  return exp2(sh_in[k * QS][pel] * pal);
}

// Reverse step k (slot k % FS) given the states before (prev) and after (hcur) step k and its
// decay da.
fn bst(k: u32, prev: vec4<f32>, hcur: vec4<f32>, da: vec4<f32>, st: ptr<function, BwdState>) {
  let dl = sh_in[k * QS][pel];
  let u = sh_in[k * QS + 1u][pel];
  let gy = sh_in[k * QS + 2u][pel];
  let bt = sh_bc[k * 2u][png];
  let ct = sh_bc[k * 2u + 1u][png];
  let g = (*st).dh + gy * ct;
  let gq = g * (da * prev); // ∂loss/∂(ΔA)·(1/Δ): ∂A sums gq·Δ, ∂Δ sums gq·A
  (*st).ga += gq * dl;
  (*st).dh = g * da;
  let s = k % FS;
  if (SGB) {
    sg_bc(k, g * (dl * u), gy * hcur);
  } else {
    sbv[s * 2u][png][pel] = g * (dl * u);
    sbv[s * 2u + 1u][png][pel] = gy * hcur;
  }
  let gb = dot(g, bt);
  snv[s][png][pel] = vec4<f32>(dot(ct, hcur), dot(gq, pa) + gb * u, gb * dl, 0.0);
}

// v43, LAST: the reverse step without the forward states. ∂y exists at the row's last step tL
// alone, so below it ∂h_{t−1} = a_t·∂h_t, and q_t = ∂h_t·a_t·h_{t−1} (what ∂A and ∂Δ need of the
// states) equals w_{t−1} = ∂h_{t−1}·h_{t−1}, with w_t = w_{t−1} + ∂h_t·Δ_t·xc_t·Bt_t: walking down
// from w_tL = ∂h_tL·h_tL (hT, the forward's final state), q_t = w_t − ∂h_t·Δ_t·xc_t·Bt_t and
// q_0 = 0 (h_{−1} = 0). No checkpoint, no recomputed chunk, no exp(Δ·A) kept per step. Needs SLIM
// (v44; the host compiles a LAST scan_bwd with it).
fn bstw(k: u32, hT: vec4<f32>, st: ptr<function, BwdState>, w: ptr<function, vec4<f32>>) {
  let dl = sh_in[k * QS][pel];
  let u = sh_in[k * QS + 1u][pel];
  let bt = sh_bc[k * BCH][png];
  let t = pt0 + k;
  let s = k % FS;
  var g = (*st).dh;
  if (t < pt1 && t + 1u == ptl) {
    // the last step (steps past the chunk's end, t ≥ pt1, are identity steps): ∂h = gy·Ct,
    // w = ∂h·hT (gy and Ct loaded once, pgy and pct; the prologue wrote ∂Ct and ∂z there)
    g = pgy * pct;
    *w = g * hT;
  }
  let gdu = g * (dl * u);
  var q = *w - gdu * bt;
  if (t == 0u) { q = vec4<f32>(0.0); }
  (*st).ga += q * dl;
  (*st).dh = g * exp2(dl * pal);
  *w = q;
  sbv[s * BCH][png][pel] = gdu;
  let gb = dot(g, bt);
  let gd = dot(q, pa) + gb * u;
  if ((s & 1u) == 0u) {
    snv[s >> 1u][png][pel].x = gd;
    snv[s >> 1u][png][pel].y = gb * dl;
  } else {
    snv[s >> 1u][png][pel].z = gd;
    snv[s >> 1u][png][pel].w = gb * dl;
  }
}

// Finaliser state of channel el2 (invocations lid ≥ T − EB).
struct FinState { gd: f32, gb: f32 }

// One flush slot s of the finaliser (v30: called with a constant s where it can be, so that the
// step k = k0 + s and every workgroup index below are constants after inlining).
fn fin_slot(s: u32, k0: u32, el2: u32, e2: u32, fd: f32, fs: ptr<function, FinState>) {
  let k = k0 + s;
  let t = pt0 + k;
  if (t < pt1) {
    let m = prow0 + t;
    let si = select(s, s >> 1u, SLIM);
    var v = vec4<f32>(0.0);
    if (NGR <= 8u) {
      // v28: at most 8 partials at constant indices (no clamp per load), four chains
      var v1 = vec4<f32>(0.0);
      var v2 = vec4<f32>(0.0);
      var v3 = vec4<f32>(0.0);
      v = snv[si][0][el2];
      if (NGR > 1u) { v1 += snv[si][1u % NGR][el2]; }
      if (NGR > 2u) { v2 += snv[si][2u % NGR][el2]; }
      if (NGR > 3u) { v3 += snv[si][3u % NGR][el2]; }
      if (NGR > 4u) { v += snv[si][4u % NGR][el2]; }
      if (NGR > 5u) { v1 += snv[si][5u % NGR][el2]; }
      if (NGR > 6u) { v2 += snv[si][6u % NGR][el2]; }
      if (NGR > 7u) { v3 += snv[si][7u % NGR][el2]; }
      v = (v + v1) + (v2 + v3);
    } else if (NGR % 4u == 0u) {
      // v19: four chains, unrolled by 4
      var v1 = vec4<f32>(0.0);
      var v2 = vec4<f32>(0.0);
      var v3 = vec4<f32>(0.0);
      for (var g = 0u; g < NGR; g += 4u) {
        v += snv[si][g][el2];
        v1 += snv[si][g + 1u][el2];
        v2 += snv[si][g + 2u][el2];
        v3 += snv[si][g + 3u][el2];
      }
      v = (v + v1) + (v2 + v3);
    } else if (NGR % 2u == 0u) {
      var v1 = vec4<f32>(0.0);
      for (var g = 0u; g < NGR; g += 2u) {
        v += snv[si][g][el2];
        v1 += snv[si][g + 1u][el2];
      }
      v += v1;
    } else {
      for (var g = 0u; g < NGR; g++) { v += snv[si][g][el2]; }
    }
    if (SLIM) {
      let h2 = select(v.xy, v.zw, (s & 1u) == 1u);
      v = vec4<f32>(0.0, h2.x, h2.y, 0.0);
    }
    let u2 = sh_in[k * QS + 1u][el2];
    // SLIM: gy from slast at the last step (0 at every other), whose ∂z the prologue wrote
    var gy2 = 0.0;
    if (!SLIM) {
      gy2 = sh_in[k * QS + 2u][el2];
      dxz[m * 2u * E + E + e2] = (v.x + fd * u2) * sh_in[k * QS + 4u][el2];
    } else if (t + 1u == ptl) {
      gy2 = slast[el2];
    }
    (*fs).gd += gy2 * u2;
    dxc[m * E + e2] = v.z + gy2 * fd;
    let gs = v.y * sh_in[k * QS + Q_DS][el2];
    (*fs).gb += gs;
    cgs[k][el2] = gs;
  }
}

// bcp[o .. o + 3] = v: states n0 .. n0 + 3 of a Bt or Ct row (states n ≥ N are not written)
fn bcp_store(o: u32, n0: u32, v: vec4<f32>) {
  if (R % 4u == 0u && N % 4u == 0u) {
    bcp[o >> 2u] = v; // o is a multiple of 4: one 16-byte store (v21)
  } else {
    bcp[o >> 2u][o & 3u] = v.x;
    if (n0 + 1u < N) { bcp[(o + 1u) >> 2u][(o + 1u) & 3u] = v.y; }
    if (n0 + 2u < N) { bcp[(o + 2u) >> 2u][(o + 2u) & 3u] = v.z; }
    if (n0 + 3u < N) { bcp[(o + 3u) >> 2u][(o + 3u) & 3u] = v.w; }
  }
}

// Sums the FS steps k0 .. k0 + FS − 1 staged by bst: ∂Bt, ∂Ct over the block's channels (to bcp),
// and per channel the partial sums over n (∂z, ∂xc, ∂Δ pre-activation).
fn flush(lid: u32, k0: u32, fs: ptr<function, FinState>) {
  workgroupBarrier();
  // (SGB: the reverse steps stored the ∂Bt/∂Ct sums themselves, sg_bc)
  for (var i = lid; i < select(FS * 2u * NGR, 0u, SGB); i += T) {
    let s = i / (2u * NGR);
    let c = i % (2u * NGR);
    let t = pt0 + k0 + s;
    if (t < pt1) {
      var v = vec4<f32>(0.0);
      // SLIM: ∂Ct is 0 but at the last step, whose sum went to bcp before the first chunk (and
      // bc_reduce LAST reads no other step's)
      if (SLIM && c >= NGR) { continue; }
      let sh = s * BCH + c / NGR;
      let sg = c % NGR;
      if (EB == 16u || EB == 32u) {
        // v28: the EB = 16 or 32 partials at constant indices (no clamp per load), four chains
        var v1 = vec4<f32>(0.0);
        var v2 = vec4<f32>(0.0);
        var v3 = vec4<f32>(0.0);
        v += sbv[sh][sg][0u % EP];
        v1 += sbv[sh][sg][1u % EP];
        v2 += sbv[sh][sg][2u % EP];
        v3 += sbv[sh][sg][3u % EP];
        v += sbv[sh][sg][4u % EP];
        v1 += sbv[sh][sg][5u % EP];
        v2 += sbv[sh][sg][6u % EP];
        v3 += sbv[sh][sg][7u % EP];
        v += sbv[sh][sg][8u % EP];
        v1 += sbv[sh][sg][9u % EP];
        v2 += sbv[sh][sg][10u % EP];
        v3 += sbv[sh][sg][11u % EP];
        v += sbv[sh][sg][12u % EP];
        v1 += sbv[sh][sg][13u % EP];
        v2 += sbv[sh][sg][14u % EP];
        v3 += sbv[sh][sg][15u % EP];
        if (EB == 32u) {
          v += sbv[sh][sg][16u % EP];
          v1 += sbv[sh][sg][17u % EP];
          v2 += sbv[sh][sg][18u % EP];
          v3 += sbv[sh][sg][19u % EP];
          v += sbv[sh][sg][20u % EP];
          v1 += sbv[sh][sg][21u % EP];
          v2 += sbv[sh][sg][22u % EP];
          v3 += sbv[sh][sg][23u % EP];
          v += sbv[sh][sg][24u % EP];
          v1 += sbv[sh][sg][25u % EP];
          v2 += sbv[sh][sg][26u % EP];
          v3 += sbv[sh][sg][27u % EP];
          v += sbv[sh][sg][28u % EP];
          v1 += sbv[sh][sg][29u % EP];
          v2 += sbv[sh][sg][30u % EP];
          v3 += sbv[sh][sg][31u % EP];
        }
        v = (v + v1) + (v2 + v3);
      } else if (EB % 16u == 0u) {
        // v19: 16 loads per iteration in four independent chains (the NVIDIA compiler leaves
        // naga's loops rolled, and this sum is on the flush's critical path)
        var v1 = vec4<f32>(0.0);
        var v2 = vec4<f32>(0.0);
        var v3 = vec4<f32>(0.0);
        for (var q = 0u; q < EB; q += 16u) {
          v += sbv[sh][sg][q];
          v1 += sbv[sh][sg][q + 1u];
          v2 += sbv[sh][sg][q + 2u];
          v3 += sbv[sh][sg][q + 3u];
          v += sbv[sh][sg][q + 4u];
          v1 += sbv[sh][sg][q + 5u];
          v2 += sbv[sh][sg][q + 6u];
          v3 += sbv[sh][sg][q + 7u];
          v += sbv[sh][sg][q + 8u];
          v1 += sbv[sh][sg][q + 9u];
          v2 += sbv[sh][sg][q + 10u];
          v3 += sbv[sh][sg][q + 11u];
          v += sbv[sh][sg][q + 12u];
          v1 += sbv[sh][sg][q + 13u];
          v2 += sbv[sh][sg][q + 14u];
          v3 += sbv[sh][sg][q + 15u];
        }
        v = (v + v1) + (v2 + v3);
      } else if (EB % 4u == 0u) {
        // four independent chains (the loads of one iteration overlap)
        var v1 = vec4<f32>(0.0);
        var v2 = vec4<f32>(0.0);
        var v3 = vec4<f32>(0.0);
        for (var q = 0u; q < EB; q += 4u) {
          v += sbv[sh][sg][q];
          v1 += sbv[sh][sg][q + 1u];
          v2 += sbv[sh][sg][q + 2u];
          v3 += sbv[sh][sg][q + 3u];
        }
        v = (v + v1) + (v2 + v3);
      } else {
        for (var q = 0u; q < EB; q++) { v += sbv[sh][sg][q]; }
      }
      let half = c / NGR;
      let n0 = (c % NGR) * 4u;
      bcp_store(((pb * p.len + t) * NEB + pblk) * JB + R + half * N + n0, n0, v);
    }
  }
  if (PACK) {
    if (lid >= T - 32u && lid - (T - 32u) < FS * EB) {
      let el2 = fin_channel(lid);
      fin_slot((lid - (T - 32u)) / EB, k0, el2, pblk * EB + el2, pfd, fs);
    }
    workgroupBarrier();
    return;
  }
  // finaliser lanes: with enough warps, slot s runs on EB lanes of warp W − 1 − s (W = T/32),
  // in parallel (v16); otherwise one set of EB lanes walks the FS slots (v5)
  var s0 = 0u;
  var s1 = FS;
  var fin = lid >= T - EB;
  if (SPREAD) {
    let w = lid / 32u;
    s0 = (T / 32u) - 1u - w;
    s1 = s0 + 1u;
    fin = w >= (T / 32u) - FS && lid % 32u < EB;
  }
  if (fin) {
    let el2 = fin_channel(lid);
    let e2 = pblk * EB + el2;
    let fd = pfd;
    if (SPREAD && FS == 2u) {
      // warp-uniform: each finaliser warp takes its own constant slot
      if (s0 == 0u) { fin_slot(0u, k0, el2, e2, fd, fs); } else { fin_slot(1u % FS, k0, el2, e2, fd, fs); }
    } else {
      for (var s = s0; s < s1; s++) { fin_slot(s, k0, el2, e2, fd, fs); }
    }
  }
  workgroupBarrier();
}

// Parameter gradients are per-(b, e) partial sums, reduced over b by conv1d.wgsl:param_reduce.
@compute @workgroup_size(T)
fn scan_bwd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  pblk = wid.x;
  pb = wid.y;
  prow0 = row_base(pb);
  pel = lid % EB;
  png = lid / EB;
  let e = pblk * EB + pel;
  pa = alog4(e, png * 4u);
  pal = pa * LOG2E;
  // v34: the finaliser lane's D, once (lanes that never finalise read a valid channel's)
  pfd = dsk[pblk * EB + min(fin_channel(lid), EB - 1u)];
  for (var i = lid; i < EB * R; i += T) {
    sh_w[i / R][i % R] = dtw[pblk * EB * R + i];
    sgw[i] = 0.0;
  }
  let nc = nchunks();
  let tl = row_len(lid, pb);
  ptl = tl;
  // the padding steps' gradients are 0 (their output gradients are, and nothing later reads them);
  // PACKED: there are no padding steps, and bc_reduce skips them in bcp
  for (var i = lid; i < select(p.len - tl, 0u, PACKED) * EB; i += T) {
    let m = pb * p.len + tl + i / EB;
    let e2 = pblk * EB + i % EB;
    dxc[m * E + e2] = 0.0;
    if (!LAST) { dxz[m * 2u * E + E + e2] = 0.0; }
  }
  // LAST: an empty row has no last step; its ∂z row is 0
  if (LAST && tl == 0u && lid < EB) { dxz[pb * E + pblk * EB + lid] = 0.0; }
  for (var i = lid; i < select(p.len - tl, 0u, PACKED) * JB; i += T) {
    let o = ((pb * p.len + tl + i / JB) * NEB + pblk) * JB + i % JB;
    bcp[o >> 2u][o & 3u] = 0.0;
  }
  var st = BwdState(vec4<f32>(0.0), vec4<f32>(0.0));
  var fs = FinState(0.0, 0.0);
  // LAST (v43): the state after the row's last step ([B, N, E], scan_fwd_e) and w (see bstw)
  var hT = vec4<f32>(0.0);
  var w = vec4<f32>(0.0);
  if (LAST) { hT = ck_load((pb * N + png * 4u) * E + e); }
  // SLIM: an empty row's last-step ∂Ct partials are 0 (bc_reduce LAST sums them all)
  if (SLIM && tl == 0u && lid < NGR) {
    bcp_store(p.nb * p.len * NEB * JB + (pb * NEB + pblk) * N + lid * 4u, lid * 4u, vec4<f32>(0.0));
  }
  if (SLIM && tl > 0u) {
    // the last step's gy, ∂z factor and Ct, once; its ∂Ct = Σ_e gy·hT over the block's channels
    let tL = tl - 1u;
    pct = bc4((prow0 + tL) * J + R + N, png * 4u);
    let gg = gate_grads(xz[pb * E + e], yb[pb * E + e]);
    pgy = gg.x;
    if (lid < EB) { slast[lid] = pgy; }
    sbv[0][png][pel] = pgy * hT;
    snv[0][png][pel] = vec4<f32>(dot(pct, hT), 0.0, 0.0, 0.0);
    workgroupBarrier();
    if (lid < NGR) {
      var v = vec4<f32>(0.0);
      for (var q = 0u; q < EB; q++) { v += sbv[0][lid][q]; }
      // after the slice's [nb·L, NEB, R + N] partials: [nb, NEB, N] (bc_reduce LAST sums them)
      bcp_store(p.nb * p.len * NEB * JB + (pb * NEB + pblk) * N + lid * 4u, lid * 4u, v);
    }
    if (lid < EB) {
      // ∂z = (Σ_n Ct·hT + D·xc)·dy·σ(z)·(1 + z·(1 − σ(z))) at the last step ([B, E])
      var ys = dsk[e] * xc[(prow0 + tL) * E + e];
      for (var g = 0u; g < NGR; g++) { ys += snv[0][g][lid].x; }
      dxz[pb * E + e] = ys * gg.y;
    }
  }
  if (PF && tl > 0u) {
    let c0 = ((tl + CB - 1u) / CB - 1u) * CB;
    prefetch_bwd(lid, c0, min(c0 + CB, tl), ((pb * nc + c0 / CB) * N + png * 4u) * E + e);
  }
  for (var ci = (tl + CB - 1u) / CB; ci > 0u; ci--) {
    pt0 = (ci - 1u) * CB;
    pt1 = min(pt0 + CB, tl);
    if (PF) {
      stage_bwd(lid, pt0, pt1);
    } else if (2u * T >= HB * EB) {
      load_chunk_bwd(lid, pt0, pt1);
    } else {
      load_chunk(lid, pt0, pt1, HB, true);
    }
    workgroupBarrier();
    // v32: the next chunk's inputs load while this one computes
    // the chunk's checkpoint: prefetched with its inputs (v34), else loaded now
    let hq = qck;
    if (PF && ci > 1u) { prefetch_bwd(lid, pt0 - CB, pt0, ((pb * nc + ci - 2u) * N + png * 4u) * E + e); }
    if (LAST) {
      // v43: the reverse steps without the forward states (bstw); v46: SLIM chunks of HB = 8
      if (HB > 8u) {
        bstw(15u, hT, &st, &w);
        if (15u % FS == 0u) { flush(lid, 15u, &fs); }
        bstw(14u, hT, &st, &w);
        if (14u % FS == 0u) { flush(lid, 14u, &fs); }
        bstw(13u, hT, &st, &w);
        if (13u % FS == 0u) { flush(lid, 13u, &fs); }
        bstw(12u, hT, &st, &w);
        if (12u % FS == 0u) { flush(lid, 12u, &fs); }
        bstw(11u, hT, &st, &w);
        if (11u % FS == 0u) { flush(lid, 11u, &fs); }
        bstw(10u, hT, &st, &w);
        if (10u % FS == 0u) { flush(lid, 10u, &fs); }
        bstw(9u, hT, &st, &w);
        if (9u % FS == 0u) { flush(lid, 9u, &fs); }
        bstw(8u, hT, &st, &w);
        if (8u % FS == 0u) { flush(lid, 8u, &fs); }
      }
      bstw(7u, hT, &st, &w);
      if (7u % FS == 0u) { flush(lid, 7u, &fs); }
      bstw(6u, hT, &st, &w);
      if (6u % FS == 0u) { flush(lid, 6u, &fs); }
      bstw(5u, hT, &st, &w);
      if (5u % FS == 0u) { flush(lid, 5u, &fs); }
      bstw(4u, hT, &st, &w);
      if (4u % FS == 0u) { flush(lid, 4u, &fs); }
      bstw(3u, hT, &st, &w);
      if (3u % FS == 0u) { flush(lid, 3u, &fs); }
      bstw(2u, hT, &st, &w);
      if (2u % FS == 0u) { flush(lid, 2u, &fs); }
      bstw(1u, hT, &st, &w);
      if (1u % FS == 0u) { flush(lid, 1u, &fs); }
      bstw(0u, hT, &st, &w);
      flush(lid, 0u, &fs);
    } else {
    var hc = hq;
    if (!PF) { hc = ck_load(((pb * nc + ci - 1u) * N + png * 4u) * E + e); }
    let h0 = hc;
    var d0: vec4<f32>;
    let h1 = fstd(0u, h0, &d0);
    var d1: vec4<f32>;
    let h2 = fstd(1u, h1, &d1);
    var d2: vec4<f32>;
    let h3 = fstd(2u, h2, &d2);
    var d3: vec4<f32>;
    let h4 = fstd(3u, h3, &d3);
    var d4: vec4<f32>;
    let h5 = fstd(4u, h4, &d4);
    var d5: vec4<f32>;
    let h6 = fstd(5u, h5, &d5);
    var d6: vec4<f32>;
    let h7 = fstd(6u, h6, &d6);
    var d7: vec4<f32>;
    let h8 = fstd(7u, h7, &d7);
    var d8: vec4<f32>;
    let h9 = fstd(8u, h8, &d8);
    var d9: vec4<f32>;
    let h10 = fstd(9u, h9, &d9);
    var d10: vec4<f32>;
    let h11 = fstd(10u, h10, &d10);
    var d11: vec4<f32>;
    let h12 = fstd(11u, h11, &d11);
    var d12: vec4<f32>;
    let h13 = fstd(12u, h12, &d12);
    var d13: vec4<f32>;
    let h14 = fstd(13u, h13, &d13);
    var d14: vec4<f32>;
    let h15 = fstd(14u, h14, &d14);
    var d15: vec4<f32>;
    let h16 = fstd(15u, h15, &d15);
    bst(15u, h15, h16, dk(15u, d15), &st);
    if (15u % FS == 0u) { flush(lid, 15u, &fs); }
    bst(14u, h14, h15, dk(14u, d14), &st);
    if (14u % FS == 0u) { flush(lid, 14u, &fs); }
    bst(13u, h13, h14, dk(13u, d13), &st);
    if (13u % FS == 0u) { flush(lid, 13u, &fs); }
    bst(12u, h12, h13, dk(12u, d12), &st);
    if (12u % FS == 0u) { flush(lid, 12u, &fs); }
    bst(11u, h11, h12, dk(11u, d11), &st);
    if (11u % FS == 0u) { flush(lid, 11u, &fs); }
    bst(10u, h10, h11, dk(10u, d10), &st);
    if (10u % FS == 0u) { flush(lid, 10u, &fs); }
    bst(9u, h9, h10, dk(9u, d9), &st);
    if (9u % FS == 0u) { flush(lid, 9u, &fs); }
    bst(8u, h8, h9, dk(8u, d8), &st);
    if (8u % FS == 0u) { flush(lid, 8u, &fs); }
    bst(7u, h7, h8, dk(7u, d7), &st);
    if (7u % FS == 0u) { flush(lid, 7u, &fs); }
    bst(6u, h6, h7, dk(6u, d6), &st);
    if (6u % FS == 0u) { flush(lid, 6u, &fs); }
    bst(5u, h5, h6, dk(5u, d5), &st);
    if (5u % FS == 0u) { flush(lid, 5u, &fs); }
    bst(4u, h4, h5, dk(4u, d4), &st);
    if (4u % FS == 0u) { flush(lid, 4u, &fs); }
    bst(3u, h3, h4, dk(3u, d3), &st);
    if (3u % FS == 0u) { flush(lid, 3u, &fs); }
    bst(2u, h2, h3, dk(2u, d2), &st);
    if (2u % FS == 0u) { flush(lid, 2u, &fs); }
    bst(1u, h1, h2, dk(1u, d1), &st);
    if (1u % FS == 0u) { flush(lid, 1u, &fs); }
    bst(0u, h0, h1, dk(0u, d0), &st);
    flush(lid, 0u, &fs);
    }
    // ∂dt_r of the chunk's steps (Σ over the block's channels) and Σ_t ∂dt_proj.weight
    let kn = pt1 - pt0;
    for (var i = lid; i < kn * R; i += T) {
      let k = i / R;
      let r = i % R;
      var s = 0.0;
      if (EB == 16u) {
        // v29: constant indices (no clamp per load), two chains
        var s1 = 0.0;
        s += cgs[k][0u % EP] * sh_w[0u % EB][r];
        s1 += cgs[k][1u % EP] * sh_w[1u % EB][r];
        s += cgs[k][2u % EP] * sh_w[2u % EB][r];
        s1 += cgs[k][3u % EP] * sh_w[3u % EB][r];
        s += cgs[k][4u % EP] * sh_w[4u % EB][r];
        s1 += cgs[k][5u % EP] * sh_w[5u % EB][r];
        s += cgs[k][6u % EP] * sh_w[6u % EB][r];
        s1 += cgs[k][7u % EP] * sh_w[7u % EB][r];
        s += cgs[k][8u % EP] * sh_w[8u % EB][r];
        s1 += cgs[k][9u % EP] * sh_w[9u % EB][r];
        s += cgs[k][10u % EP] * sh_w[10u % EB][r];
        s1 += cgs[k][11u % EP] * sh_w[11u % EB][r];
        s += cgs[k][12u % EP] * sh_w[12u % EB][r];
        s1 += cgs[k][13u % EP] * sh_w[13u % EB][r];
        s += cgs[k][14u % EP] * sh_w[14u % EB][r];
        s1 += cgs[k][15u % EP] * sh_w[15u % EB][r];
        s += s1;
      } else if (EB % 4u == 0u) {
        // v19: unrolled by 4, two chains
        var s1 = 0.0;
        for (var q = 0u; q < EB; q += 4u) {
          s += cgs[k][q] * sh_w[q][r];
          s1 += cgs[k][q + 1u] * sh_w[q + 1u][r];
          s += cgs[k][q + 2u] * sh_w[q + 2u][r];
          s1 += cgs[k][q + 3u] * sh_w[q + 3u][r];
        }
        s += s1;
      } else {
        for (var q = 0u; q < EB; q++) { s += cgs[k][q] * sh_w[q][r]; }
      }
      let ob = ((pb * p.len + pt0 + k) * NEB + pblk) * JB + r;
      bcp[ob >> 2u][ob & 3u] = s;
    }
    for (var i = lid; i < EB * R; i += T) {
      let el = i / R;
      let r = i % R;
      var s = sgw[i];
      // over the chunk's HB steps at constant indices (v29; steps past kn stage dt_r = 0, and cgs
      // there is masked so a stale value never enters; v46: with HB = 8 the terms from 8 on read
      // entry X % HB and are masked, kn ≤ 8)
      var s1 = 0.0;
      s += select(0.0, cgs[0u % HB][el], 0u < kn) * sh_dtr[0u % HB][r];
      s1 += select(0.0, cgs[1u % HB][el], 1u < kn) * sh_dtr[1u % HB][r];
      s += select(0.0, cgs[2u % HB][el], 2u < kn) * sh_dtr[2u % HB][r];
      s1 += select(0.0, cgs[3u % HB][el], 3u < kn) * sh_dtr[3u % HB][r];
      s += select(0.0, cgs[4u % HB][el], 4u < kn) * sh_dtr[4u % HB][r];
      s1 += select(0.0, cgs[5u % HB][el], 5u < kn) * sh_dtr[5u % HB][r];
      s += select(0.0, cgs[6u % HB][el], 6u < kn) * sh_dtr[6u % HB][r];
      s1 += select(0.0, cgs[7u % HB][el], 7u < kn) * sh_dtr[7u % HB][r];
      s += select(0.0, cgs[8u % HB][el], 8u < kn) * sh_dtr[8u % HB][r];
      s1 += select(0.0, cgs[9u % HB][el], 9u < kn) * sh_dtr[9u % HB][r];
      s += select(0.0, cgs[10u % HB][el], 10u < kn) * sh_dtr[10u % HB][r];
      s1 += select(0.0, cgs[11u % HB][el], 11u < kn) * sh_dtr[11u % HB][r];
      s += select(0.0, cgs[12u % HB][el], 12u < kn) * sh_dtr[12u % HB][r];
      s1 += select(0.0, cgs[13u % HB][el], 13u < kn) * sh_dtr[13u % HB][r];
      s += select(0.0, cgs[14u % HB][el], 14u < kn) * sh_dtr[14u % HB][r];
      s1 += select(0.0, cgs[15u % HB][el], 15u < kn) * sh_dtr[15u % HB][r];
      sgw[i] = s + s1;
    }
    workgroupBarrier();
  }
  let pp = (pb * E + e) * (JS + K + 1u);
  let n0 = png * 4u;
  let gA = st.ga * pa; // dA/dA_log = A
  if (n0 < N) { part[pp + n0] = gA.x; }
  if (n0 + 1u < N) { part[pp + n0 + 1u] = gA.y; }
  if (n0 + 2u < N) { part[pp + n0 + 2u] = gA.z; }
  if (n0 + 3u < N) { part[pp + n0 + 3u] = gA.w; }
  if (PACK || SPREAD) {
    let w = lid / 32u;
    if (PACK && lid >= T - 32u && lid - (T - 32u) < FS * EB) {
      sfin[lid - (T - 32u)] = vec2<f32>(fs.gd, fs.gb); // slot l / EB, channel l % EB
    }
    if (!PACK && w >= (T / 32u) - FS && lid % 32u < EB) {
      sfin[((T / 32u) - 1u - w) * EB + lid % 32u] = vec2<f32>(fs.gd, fs.gb);
    }
    workgroupBarrier();
    if (lid < EB) {
      var v = vec2<f32>(0.0);
      for (var s = 0u; s < FS; s++) { v += sfin[s * EB + lid]; }
      let pq = (pb * E + pblk * EB + lid) * (JS + K + 1u);
      part[pq + N] = v.x;
      part[pq + N + 1u + R] = v.y;
    }
  } else if (lid >= T - EB) {
    let pq = (pb * E + pblk * EB + lid - (T - EB)) * (JS + K + 1u);
    part[pq + N] = fs.gd;
    part[pq + N + 1u + R] = fs.gb;
  }
  for (var i = lid; i < EB * R; i += T) {
    part[(pb * E + pblk * EB + i / R) * (JS + K + 1u) + N + 1u + i % R] = sgw[i];
  }
}
