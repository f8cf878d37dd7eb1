// Deterministic reductions over flat buffers: global L2 norm (+ clip coefficient), in-place
// scaling, and per-region statistics with a NaN/Inf detector. Every sum is a fixed two-stage tree
// (a fixed set of workgroups, each a fixed shared-memory tree, then one workgroup combining the
// partials in index order), so results are bit-identical from run to run.
// Bindings per entry are listed at each entry (each entry uses bindings 1..k with no gap, as
// Runtime.op binds them); all are read_write (views of the flat buffers).

struct Params { n: u32, groups: u32, max_norm: f32, clip: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<u32>;
@group(0) @binding(4) var<storage, read_write> d: array<u32>;

const WG: u32 = 256u;
var<workgroup> sf: array<f32, WG>;
var<workgroup> sg: array<f32, WG>;
var<workgroup> su: array<u32, WG>;
var<workgroup> sv: array<u32, WG>;

fn tree_sum(lid: u32) {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { sf[lid] += sf[lid + s]; }
  }
  workgroupBarrier();
}

// a = x [n], b = partial [groups]: partial[g] = sum of x[i]^2 over i = g*WG + lid + j*groups*WG
@compute @workgroup_size(WG)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var s = 0.0;
  for (var i = wid.x * WG + lid; i < p.n; i += p.groups * WG) {
    let x = a[i];
    s = fma(x, x, s);
  }
  sf[lid] = s;
  tree_sum(lid);
  if (lid == 0u) { b[wid.x] = sf[0]; }
}

// a = partial [groups], b = out [4]: [norm, clip coefficient, sum of squares, 0]. The coefficient
// is torch's clip_grad_norm_: min(1, max_norm / (norm + 1e-6)), or 1 when clipping is off.
@compute @workgroup_size(WG)
fn norm_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var s = 0.0;
  for (var i = lid; i < p.groups; i += WG) { s += a[i]; }
  sf[lid] = s;
  tree_sum(lid);
  if (lid == 0u) {
    let ss = sf[0];
    let norm = sqrt(ss);
    var coef = 1.0;
    if (p.clip != 0u) { coef = min(1.0, p.max_norm / (norm + 1e-6)); }
    b[0] = norm;
    b[1] = coef;
    b[2] = ss;
    b[3] = 0.0;
  }
}

// a = x [n] scaled in place by b[p.groups] (p.groups reused as the index of the coefficient)
@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  a[i] *= b[p.groups];
}

fn finite(x: f32) -> bool {
  // exponent all ones = Inf or NaN; a bit test because `x != x` may be folded away
  return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// Stage 1 of per-region stats. a = data (one binding over the regions' buffer), b = partial
// [R * groups, 2] f32 (sum of squares, max |x| over finite elements), c = region table
// [regions_here, 4] u32: (global region index, element offset into a, length, 0), d = first bad
// [R * groups] u32 (index in the region of the first non-finite element of this slice, 0xffffffff if none).
// Workgroup (x, y) = (slice, local region); p.groups = slices per region.
@compute @workgroup_size(WG)
fn stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  let r = wid.y;
  let g = c[r * 4u];
  let off = c[r * 4u + 1u];
  let len = c[r * 4u + 2u];
  var ss = 0.0;
  var mx = 0.0;
  var bad = 0xffffffffu;
  for (var i = wid.x * WG + lid; i < len; i += p.groups * WG) {
    let x = a[off + i];
    if (finite(x)) {
      ss = fma(x, x, ss);
      mx = max(mx, abs(x));
    } else {
      bad = min(bad, i);
    }
  }
  sf[lid] = ss;
  sg[lid] = mx;
  su[lid] = bad;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      sf[lid] += sf[lid + s];
      sg[lid] = max(sg[lid], sg[lid + s]);
      su[lid] = min(su[lid], su[lid + s]);
    }
  }
  workgroupBarrier();
  if (lid == 0u) {
    let o = g * p.groups + wid.x;
    b[o * 2u] = sf[0];
    b[o * 2u + 1u] = sg[0];
    d[o] = su[0];
  }
}

// Stage 2. a = partial, b = result [R, 2] (sum of squares, max |x|), c = first bad per slice,
// d = summary u32 [4 + R]: flag (1 if any non-finite), first offending region (list order), its
// first bad element, number of offending regions; then the first bad element of each region.
// p.n = R, p.groups = slices per region. One workgroup.
@compute @workgroup_size(WG)
fn stats_final(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var first = 0xffffffffu;
  var count = 0u;
  for (var r = lid; r < p.n; r += WG) {
    var ss = 0.0;
    var mx = 0.0;
    var bad = 0xffffffffu;
    for (var j = 0u; j < p.groups; j++) {
      let o = r * p.groups + j;
      ss += a[o * 2u];
      mx = max(mx, a[o * 2u + 1u]);
      bad = min(bad, c[o]);
    }
    b[r * 2u] = ss;
    b[r * 2u + 1u] = mx;
    d[4u + r] = bad;
    if (bad != 0xffffffffu) {
      count += 1u;
      first = min(first, r);
    }
  }
  su[lid] = first;
  sv[lid] = count;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      su[lid] = min(su[lid], su[lid + s]);
      sv[lid] += sv[lid + s];
    }
  }
  workgroupBarrier();
  // makes the per-region d[4 + r] written by other invocations visible to invocation 0
  storageBarrier();
  if (lid == 0u) {
    let f = su[0];
    d[0] = select(0u, 1u, f != 0xffffffffu);
    d[1] = f;
    d[2] = 0xffffffffu;
    if (f != 0xffffffffu) { d[2] = d[4u + f]; }
    d[3] = sv[0];
  }
}
