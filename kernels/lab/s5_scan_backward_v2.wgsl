// Lab (session 12): S5 scan_backward v2, a workgroup of 256 per row with the per-slot work in
// parallel and only the recurrence sequential — not kept: on the H100 it measured ~1.15× the
// relative cost of v1 (kernels/lab/RESULTS.md, session 12). Drop-in for kernels/s5.wgsl's
// scan_backward next to the v2 scan_forward (commit ee019cc: it uses SF_T and row_steps_uniform), dispatched
// as grid(B, 1).

// Reverse scan, v2 (session 12; v1, one invocation per (b, q) walking its row, is at commit
// b069a94): λ[t] = G[t] + conj(a[t+1])·λ[t+1] with G = dy·conj(C̃) precomputed by a matmul;
// writes dv = conj(s·φ₁)·λ over G in place and the per-row partials of dΛ and dlog_step. One
// workgroup of SF_T invocations per row b walks the row's chunks of CS = SF_T / P steps from the
// last: phase 1, every invocation (k, q) discretises step t0 + k of state q and loads its G, v and
// the state before it; phase 2, the P walkers q run the recurrence down the chunk (the only
// sequential part) and leave λ in workgroup memory; phase 3, every (k, q) forms dv and its terms
// of dΛ and dlog_step. The per-slot partials are summed over k at the end in a fixed order.
// t1 = dt, t2 = Lambda, t3 = log_step, t4 = v, t5 = x, t6 = G in / dv out [B,L,P,2],
// t7 = partials [B, 3P] (dΛ re/im interleaved in [0, 2P), dlog_step in [2P, 3P)).
var<workgroup> sb_ga: array<vec4f, SF_T>; // (G, then λ; a' = a, or 1 where s = 0) of a slot

@compute @workgroup_size(SF_T)
fn scan_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_id) lidv: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.nb) { return; }
  let lid = lidv.x;
  let cs = max(1u, SF_T / p.np); // steps per chunk
  let q = lid % p.np;
  let k = lid / p.np;
  let raw = vec2f(t2[2u * q], t2[2u * q + 1u]);
  let lam = lambda_at(raw);
  let step = exp(t3[q]);
  let nl = row_steps_uniform(lid, b);
  let row0 = row_start(b);
  let row = 2u * p.np; // floats between consecutive steps
  var lm = vec2f(0.0); // walkers: λ and a' of the step after
  var anext = vec2f(0.0);
  var dl = vec2f(0.0); // every slot: its terms of dΛ and dlog_step
  var dls = 0.0;
  for (var c = (nl + cs - 1u) / cs; c > 0u; c--) {
    let t0 = (c - 1u) * cs;
    let t = t0 + k;
    let live = k < cs && t < nl;
    var s = 0.0;
    var d = Disc(vec2f(0.0), vec2f(0.0), vec2f(0.0));
    var v = vec2f(0.0);
    var xp = vec2f(0.0);
    var o = 0u;
    if (live) {
      let bt = row0 + t;
      o = (bt * p.np + q) * 2u;
      s = t1[bt] * step;
      d = discretize(lam, s);
      v = vec2f(t4[o], t4[o + 1u]);
      if (t > 0u) { xp = vec2f(t5[o - row], t5[o - row + 1u]); }
      sb_ga[lid] = vec4f(t6[o], t6[o + 1u], select(vec2f(1.0, 0.0), d.a, s != 0.0));
    }
    workgroupBarrier();
    if (lid < p.np) {
      for (var j = min(cs, nl - t0); j > 0u; j--) {
        let e = sb_ga[(j - 1u) * p.np + lid];
        lm = e.xy + cmulc(anext, lm);
        sb_ga[(j - 1u) * p.np + lid] = vec4f(lm, e.zw);
        anext = e.zw;
      }
    }
    workgroupBarrier();
    if (live) {
      let l = sb_ga[lid].xy;
      if (s == 0.0) {
        // a = 1, g = 0: λ passes through, nothing flows into v, Λ or log_step
        t6[o] = 0.0;
        t6[o + 1u] = 0.0;
      } else {
        let dv = cmulc(s * d.phi, l);
        t6[o] = dv.x;
        t6[o + 1u] = dv.y;
        let da = cmulc(xp, l);
        let dg = cmulc(v, l);
        // dΛ += conj(s·a)·da + conj(s²·φ₁')·dg;  ds = Re(conj(a)·(dg + conj(Λ)·da))
        dl += s * (cmulc(d.a, da) + s * cmulc(d.dphi, dg));
        dls += s * dot(d.a, dg + cmulc(lam, da));
      }
    }
    workgroupBarrier();
  }
  sb_ga[lid] = vec4f(dl, dls, 0.0);
  workgroupBarrier();
  if (lid >= p.np) { return; }
  var acc = vec4f(0.0);
  for (var j = 0u; j < cs; j++) { acc += sb_ga[j * p.np + lid]; }
  var dlo = acc.xy;
  // clamped entries: the forward used a constant, so Re gets no gradient (as jnp/torch clip)
  if (p.clip != 0u && raw.x > CLIP_RE) { dlo.x = 0.0; }
  let w = b * 3u * p.np;
  t7[w + 2u * q] = dlo.x;
  t7[w + 2u * q + 1u] = dlo.y;
  t7[w + 2u * p.np + q] = acc.z;
}

