// Full-ranking evaluation on the GPU (SPEC §5); scores never leave the device.
//   rank_rows    one workgroup per row: rank = 1 + #{j in 1..V-1, j != target, not masked :
//                !(s_j < s_target)}: equal scores count against the target, and so does NaN (a
//                NaN target score ranks last, never first). Padding column 0 never counts. Rows
//                with target outside 1..V-1 (padding rows) get rank 0. The optional history mask
//                is a bitmask [rows, words] u32 (bit j%32 of word j/32 set = item j excluded);
//                the target itself is never excluded.
//   rank_metrics one workgroup: acc += [count, HR@5,10,20, NDCG@5,10,20, MRR@5,10,20] summed over
//                rows with rank > 0 (fixed-order tree sums: deterministic); the host reads 10 floats.

struct Params { rows: u32, vocab: u32, words: u32, use_mask: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;
@group(0) @binding(1) var<storage, read_write> ranks1: array<u32>;
@group(0) @binding(2) var<storage, read_write> tg: array<i32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<u32>;
@group(0) @binding(4) var<storage, read_write> ranks: array<u32>;

var<workgroup> cnt: array<u32, 256>;

// bindings: 1 scores [rows, vocab], 2 targets, 3 mask [rows, words] (any 1-word tensor when
// use_mask = 0), 4 ranks [rows]
@compute @workgroup_size(256)
fn rank_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.rows) { return; }
  let l = lid.x;
  let t = tg[b];
  let ok = t > 0 && u32(t) < p.vocab;
  var c = 0u;
  if (ok) {
    let ut = u32(t);
    let st = scores[b * p.vocab + ut];
    for (var j = 1u + l; j < p.vocab; j += 256u) {
      var skip = j == ut;
      if (p.use_mask != 0u) {
        skip = skip || ((mask[b * p.words + (j >> 5u)] >> (j & 31u)) & 1u) != 0u;
      }
      if (!skip && !(scores[b * p.vocab + j] < st)) { c++; }
    }
  }
  cnt[l] = c;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l < s) { cnt[l] += cnt[l + s]; }
    workgroupBarrier();
  }
  if (l == 0u) { ranks[b] = select(0u, 1u + cnt[0], ok); }
}

var<workgroup> red: array<array<f32, 10>, 256>;

// bindings: 1 ranks [rows], 2 acc [10] (accumulated)
@compute @workgroup_size(256)
fn rank_metrics(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  var s: array<f32, 10>;
  for (var b = l; b < p.rows; b += 256u) {
    let r = ranks1[b];
    if (r == 0u) { continue; }
    let fr = f32(r);
    s[0] += 1.0;
    let ks = array<u32, 3>(5u, 10u, 20u);
    for (var q = 0u; q < 3u; q++) {
      if (r <= ks[q]) {
        s[1u + q] += 1.0;
        s[4u + q] += 1.0 / log2(fr + 1.0);
        s[7u + q] += 1.0 / fr;
      }
    }
  }
  red[l] = s;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (l < w) {
      for (var q = 0u; q < 10u; q++) { red[l][q] += red[l + w][q]; }
    }
    workgroupBarrier();
  }
  if (l < 10u) { acc[l] += red[0][l]; }
}
