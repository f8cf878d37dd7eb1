// Embedding lookup and its deterministic scatter-add backward (no float atomics).
//
// Forward: out[r, h] = table[ids[r], h] (zero row for ids outside [0, vocab)).
// Backward, five dispatches over one u32 workspace ws (layout below), all on the GPU:
//   emb_hist    counts[id] += 1 for every token with 0 < id < vocab (integer atomics; padding id 0
//               gets no lookup gradient: padding_idx semantics)
//   emb_scan    one workgroup: offsets = exclusive prefix sum of counts, cursor = offsets, and
//               counts reset to 0 for the next step (so no clear command is needed)
//   emb_scatter perm[atomicAdd(cursor[id], 1)] = r: tokens grouped by id, in arbitrary order
//   emb_sort    sorted[offsets[id] + #{s in segment: perm[s] < perm[slot]}] = perm[slot]: each
//               segment put in ascending token order, so the sums below do not depend on the
//               atomic order (deterministic bits). O(n_id^2) per segment, fine for the few hundred
//               occurrences of the most popular items in a batch.
//   emb_reduce  one workgroup per item id: dTable[id, h] += sum of dOut[r, h] over its segment
//               (4 row-strided lanes per column, combined in fixed order).
// ws layout (u32): counts [V] | offsets [V + 1] | cursor [V] | perm [n] | sorted [n].

struct Params { n: u32, dim: u32, vocab: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> ids: array<i32>;
@group(0) @binding(1) var<storage, read_write> ws1: array<u32>;
@group(0) @binding(2) var<storage, read_write> f2: array<f32>;          // table | dOut
@group(0) @binding(2) var<storage, read_write> wsa: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> ws2: array<u32>;
@group(0) @binding(3) var<storage, read_write> f3: array<f32>;          // out | dTable

fn lin(gid: vec3u, nwg: vec3u, wg: u32) -> u32 { return gid.x + gid.y * nwg.x * wg; }
fn off_offsets() -> u32 { return p.vocab; }
fn off_cursor() -> u32 { return 2u * p.vocab + 1u; }
fn off_perm() -> u32 { return 3u * p.vocab + 1u; }
fn off_sorted() -> u32 { return 3u * p.vocab + 1u + p.n; }

// bindings: 1 ids, 2 table, 3 out
@compute @workgroup_size(256)
fn emb_gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  if (i >= p.n * p.dim) { return; }
  let r = i / p.dim;
  let h = i - r * p.dim;
  let id = ids[r];
  var v = 0.0;
  if (id >= 0 && u32(id) < p.vocab) { v = f2[u32(id) * p.dim + h]; }
  f3[i] = v;
}

// bindings: 1 ids, 2 ws (atomic)
@compute @workgroup_size(256)
fn emb_hist(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = lin(gid, nwg, 256u);
  if (r >= p.n) { return; }
  let id = ids[r];
  if (id <= 0 || u32(id) >= p.vocab) { return; }
  atomicAdd(&wsa[u32(id)], 1u);
}

var<workgroup> scan: array<u32, 256>;

// bindings: 1 ws. One workgroup; thread t owns a contiguous chunk of ids.
@compute @workgroup_size(256)
fn emb_scan(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  let chunk = (p.vocab + 255u) / 256u;
  let lo = min(t * chunk, p.vocab);
  let hi = min(lo + chunk, p.vocab);
  var s = 0u;
  for (var v = lo; v < hi; v++) { s += ws1[v]; }
  scan[t] = s;
  workgroupBarrier();
  // Hillis-Steele inclusive scan over the 256 chunk sums
  for (var d = 1u; d < 256u; d <<= 1u) {
    var x = 0u;
    if (t >= d) { x = scan[t - d]; }
    workgroupBarrier();
    scan[t] += x;
    workgroupBarrier();
  }
  var run = scan[t] - s;
  for (var v = lo; v < hi; v++) {
    let c = ws1[v];
    ws1[off_offsets() + v] = run;
    ws1[off_cursor() + v] = run;
    ws1[v] = 0u;
    run += c;
  }
  if (t == 255u) { ws1[off_offsets() + p.vocab] = scan[255]; }
}

// bindings: 1 ids, 2 ws (atomic)
@compute @workgroup_size(256)
fn emb_scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = lin(gid, nwg, 256u);
  if (r >= p.n) { return; }
  let id = ids[r];
  if (id <= 0 || u32(id) >= p.vocab) { return; }
  let slot = atomicAdd(&wsa[off_cursor() + u32(id)], 1u);
  atomicStore(&wsa[off_perm() + slot], r);
}

// bindings: 1 ids, 2 ws
@compute @workgroup_size(256)
fn emb_sort(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let s = lin(gid, nwg, 256u);
  if (s >= ws2[off_offsets() + p.vocab]) { return; }
  let r = ws2[off_perm() + s];
  let id = u32(ids[r]);
  let lo = ws2[off_offsets() + id];
  let hi = ws2[off_offsets() + id + 1u];
  var rank = 0u;
  for (var q = lo; q < hi; q++) {
    if (ws2[off_perm() + q] < r) { rank++; }
  }
  ws2[off_sorted() + lo + rank] = r;
}

var<workgroup> part: array<array<f32, 64>, 4>;

// bindings: 1 ws, 2 dOut [n, dim], 3 dTable [vocab, dim] (accumulated). Workgroup (64, 4) per id.
@compute @workgroup_size(64, 4)
fn emb_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let id = wid.x + wid.y * nwg.x;
  var lo = 0u;
  var hi = 0u;
  if (id > 0u && id < p.vocab) {
    lo = ws1[off_offsets() + id];
    hi = ws1[off_offsets() + id + 1u];
  }
  // uniform loop over column blocks: every thread reaches the barriers
  for (var h0 = 0u; h0 < p.dim; h0 += 64u) {
    let h = h0 + lid.x;
    var s = 0.0;
    if (h < p.dim) {
      for (var q = lo + lid.y; q < hi; q += 4u) {
        s += f2[ws1[off_sorted() + q] * p.dim + h];
      }
    }
    part[lid.y][lid.x] = s;
    workgroupBarrier();
    if (lid.y == 0u && h < p.dim && hi > lo) {
      f3[id * p.dim + h] += ((part[0][lid.x] + part[1][lid.x]) + part[2][lid.x]) + part[3][lid.x];
    }
    workgroupBarrier();
  }
}

// ---- gather-last: out[b, h] = x[b, clamp(len_b, 1, L) - 1, h] ----
// Params reused as [B, L, H] = (n, dim, vocab). Bindings: 1 lengths (i32), 2 x | dOut, 3 out | dx.

fn last_pos(b: u32) -> u32 { return u32(clamp(ids[b], 1, i32(p.dim))) - 1u; }

@compute @workgroup_size(256)
fn gather_last_forward(@builtin(global_invocation_id) gid: vec3u,
                       @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let H = p.vocab;
  if (i >= p.n * H) { return; }
  let b = i / H;
  let h = i - b * H;
  f3[i] = f2[(b * p.dim + last_pos(b)) * H + h];
}

// dx[b, t, h] = (t == last) ? dOut[b, h] : 0, one thread per element of dx (overwritten)
@compute @workgroup_size(256)
fn gather_last_backward(@builtin(global_invocation_id) gid: vec3u,
                        @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let H = p.vocab;
  if (i >= p.n * p.dim * H) { return; }
  let bt = i / H;
  let h = i - bt * H;
  let b = bt / p.dim;
  let t = bt - b * p.dim;
  f3[i] = select(0.0, f2[b * H + h], t == last_pos(b));
}
