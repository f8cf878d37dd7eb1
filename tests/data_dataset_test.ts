import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { buildDataset, loadDataset, parseInterval, splitFingerprint } from "../lib/data/mod.ts";
import { SHARED } from "./shared.ts";
import { tableOf } from "./data_fixtures.ts";

const ROOT = new URL("../", import.meta.url);
const SHARED_DATA = new URL("data/", SHARED);
const ML100K = fromFileUrl(new URL("ml-100k/u.data", SHARED_DATA));
const ML100K_INTER = fromFileUrl(new URL("ml-100k-recbole/ml-100k.inter", SHARED_DATA));
const MLS = fromFileUrl(new URL("data/ml-latest-small/ratings.csv", ROOT));

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const SPEC = {
  ml100k: [
    "c5f09dd6ba4ace29c187b135cac442bdd91ae36cfdee65a3df644d1620e4c025",
    "1a658d75615ffbfd7c14af3c81b62aaa3329b1d73f3ed0cfa2786d5726c194de",
    "61402eb547b1e341dee947a9a2c72bb29c853187f3fb7508480565e04f6e83c1",
  ],
  mls: [
    "dd8c2597baca52987157e175239e09d1758027abb72a32319d08e0d9fb243091",
    "446eb6acaad3fbdefb1a73c61679011f1019af44f1f5665c0c437caa78446b60",
    "83cdebda63d3001242da4dbf6b12f7d95b9ff4c1d4274bf733e51124990459ad",
  ],
};

Deno.test("ml-latest-small: 5-core counts and SPEC split fingerprints", async () => {
  const ds = await loadDataset(MLS);
  assertEquals([ds.numUsers, ds.numItems - 1, ds.items.length], [610, 3650, 90274]);
  assertEquals(ds.rawItemIds[0], "[PAD]");
  const fps = [];
  for (const set of [ds.train, ds.valid, ds.test]) fps.push(await splitFingerprint(ds, set));
  assertEquals(fps, SPEC.mls);
});

Deno.test({
  name: "ml-100k u.data: 5-core counts and SPEC split fingerprints",
  ignore: !exists(ML100K) && (console.warn(`skip: ${ML100K} absent`), true),
  async fn() {
    const ds = await loadDataset(ML100K);
    assertEquals([ds.numUsers, ds.numItems - 1, ds.items.length], [943, 1349, 99287]);
    const fps = [];
    for (const set of [ds.train, ds.valid, ds.test]) fps.push(await splitFingerprint(ds, set));
    assertEquals(fps, SPEC.ml100k);
  },
});

Deno.test({
  name: "ml-100k RecBole .inter gives the same splits",
  ignore: !exists(ML100K_INTER),
  async fn() {
    const ds = await loadDataset(ML100K_INTER);
    assertEquals([ds.numUsers, ds.numItems - 1, ds.items.length], [943, 1349, 99287]);
    assertEquals(await splitFingerprint(ds, ds.test), SPEC.ml100k[2]);
  },
});

Deno.test("parseInterval: RecBole syntax", () => {
  assertEquals(parseInterval("[5,inf)"), [{
    lo: 5,
    hi: Infinity,
    loInclusive: true,
    hiInclusive: false,
  }]);
  assertEquals(parseInterval("(0,10]")![0], {
    lo: 0,
    hi: 10,
    loInclusive: false,
    hiInclusive: true,
  });
  assertEquals(parseInterval(null), null);
  assertEquals(parseInterval("[1,2];[5,inf)")!.length, 2);
});

Deno.test("k-core repeats until stable", () => {
  // 2-core needs three passes: y, z, b, e go first; then c (only x left); then x (only a).
  const rows: [string, string, number][] = [
    ["x", "a", 1],
    ["x", "b", 2],
    ["x", "c", 3],
    ["w", "a", 1],
    ["w", "d", 2],
    ["v", "a", 1],
    ["v", "d", 2],
    ["y", "c", 4],
    ["z", "e", 1],
  ];
  const ds = buildDataset(tableOf(rows), {
    userInterNumInterval: "[2,inf)",
    itemInterNumInterval: "[2,inf)",
  });
  assertEquals(ds.rawUserIds, ["w", "v"]);
  assertEquals(ds.rawItemIds, ["[PAD]", "a", "d"]);
  assertEquals(ds.stats.kcoreRounds, 3);
});

Deno.test("stable per-user sort: ties keep file order; dense ids by first appearance", () => {
  const rows: [string, string, number][] = [
    ["u", "i3", 20],
    ["u", "i1", 10],
    ["u", "i2", 20],
    ["u", "i4", 10],
    ["u", "i5", 30],
  ];
  const ds = buildDataset(tableOf(rows), {
    userInterNumInterval: null,
    itemInterNumInterval: null,
  });
  const raw = Array.from(ds.items, (i) => ds.rawItemIds[i]);
  assertEquals(raw, ["i1", "i4", "i3", "i2", "i5"]);
  assertEquals(Array.from(ds.timestamps), [10, 10, 20, 20, 30]);
  assertEquals(ds.rawItemIds, ["[PAD]", "i3", "i1", "i2", "i4", "i5"]);
});

Deno.test("leave-one-out for short users follows RecBole (n=1,2,3,4)", () => {
  const rows: [string, string, number][] = [];
  for (const [u, n] of [["a", 1], ["b", 2], ["c", 3], ["d", 4]] as const) {
    for (let k = 0; k < n; k++) rows.push([u, `i${k}`, k]);
  }
  const ds = buildDataset(tableOf(rows), {
    userInterNumInterval: null,
    itemInterNumInterval: null,
  });
  const name = (set: { user: Int32Array; pos: Int32Array }) =>
    Array.from(set.user, (u, i) => `${ds.rawUserIds[u]}${set.pos[i]}`);
  assertEquals(name(ds.train), ["b1", "c1", "d1"]);
  assertEquals(name(ds.valid), ["d2"]);
  assertEquals(name(ds.test), ["c2", "d3"]);
});

Deno.test("fractional timestamps take the comparator path with the same tie rule", () => {
  const rows: [string, string, number][] = [
    ["u", "i3", 20.5],
    ["u", "i1", 10.25],
    ["u", "i2", 20.5],
    ["u", "i4", 10.25],
  ];
  const ds = buildDataset(tableOf(rows), {
    userInterNumInterval: null,
    itemInterNumInterval: null,
  });
  assertEquals(Array.from(ds.items, (i) => ds.rawItemIds[i]), ["i1", "i4", "i3", "i2"]);
});
