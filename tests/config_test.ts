import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  applySets,
  ConfigError,
  DEFAULT_CONFIG,
  editDistance,
  loadConfig,
  parseConfigText,
  suggestKey,
} from "../lib/config.ts";

const ROOT = new URL("../", import.meta.url);
const cfg = (name: string) => fileURLToPath(new URL(`configs/${name}`, ROOT));

Deno.test("shipped configs load and validate", () => {
  const ss = loadConfig(cfg("ss4rec.yaml"));
  assertEquals(ss, { ...DEFAULT_CONFIG });
  const ml1m = loadConfig(cfg("ss4rec-ml-1m.yaml"));
  assertEquals(ml1m.MAX_ITEM_LIST_LENGTH, 200);
  const small = loadConfig(cfg("default.yaml"));
  assertEquals([small.train_mode, small.MAX_ITEM_LIST_LENGTH], ["sequence", 50]);
  const ncf = loadConfig(cfg("ncf.yaml"));
  assertEquals([ncf.model, ncf.mlp_hidden_size, ncf.dropout_prob], ["NCF", [128, 64], 0.1]);
});

Deno.test("--set parses YAML scalars and flow lists", () => {
  const c = applySets(DEFAULT_CONFIG, [
    "epochs=10",
    "learning_rate=1e-4",
    "topk=[1, 10]",
    "clip_grad_norm=null",
    "train_mode=sequence",
    "mask_history=true",
    "user_inter_num_interval=[10,inf)",
    "data_path=foo bar.csv",
  ]);
  assertEquals(c.epochs, 10);
  assertEquals(c.learning_rate, 1e-4);
  assertEquals(c.topk, [1, 10]);
  assertEquals(c.clip_grad_norm, null);
  assertEquals(c.train_mode, "sequence");
  assertEquals(c.mask_history, true);
  assertEquals(c.user_inter_num_interval, "[10,inf)");
  assertEquals(c.data_path, "foo bar.csv");
  assertEquals(loadConfig(undefined, ["seed=7"]).seed, 7);
});

Deno.test("unknown keys suggest the nearest valid key, naming file or flag", () => {
  throws(
    () => parseConfigText("hiden_size: 32\n", "my.yaml"),
    (e: Error) =>
      e instanceof ConfigError &&
      e.message === "my.yaml: unknown key 'hiden_size' (did you mean 'hidden_size'?)",
  );
  throws(
    () => applySets(DEFAULT_CONFIG, ["max_item_list_length=50"]),
    /^ConfigError: --set max_item_list_length=50: unknown key 'max_item_list_length' \(did you mean 'MAX_ITEM_LIST_LENGTH'\?\)$/,
  );
  throws(
    () => applySets(DEFAULT_CONFIG, ["zzzzzzzzzzzz=1"]),
    (e: Error) => !/did you mean/.test(e.message),
  );
  assertEquals(suggestKey("learnig_rate"), "learning_rate");
  assertEquals(editDistance("kitten", "sitting"), 3);
});

Deno.test("wrong types are one-line errors", () => {
  const cases: [string, RegExp][] = [
    ["epochs: ten", /x\.yaml: key 'epochs': expected an integer, got 'ten'/],
    ["hidden_size: 0", /expected a positive integer, got 0/],
    ["loss_type: MSE", /expected one of CE, BPR, got 'MSE'/],
    ["topk: 10", /expected a list of integers/],
    ["mask_history: 1", /expected true or false/],
    ["recompute: s5", /expected one of true, false, mamba, got 's5'/],
    ["recompute: 1", /expected one of true, false, mamba, got 1/],
    ["user_inter_num_interval: 5", /expected an interval/],
    ["valid_metric: AUC", /expected a metric like NDCG@10/],
    ["clip_grad_norm: big", /expected a number or null/],
    ["- a\n- b", /expected a mapping/],
    ["a: [", /x\.yaml: invalid YAML/],
  ];
  for (const [text, re] of cases) {
    throws(() => parseConfigText(text, "x.yaml"), (e: Error) => {
      if (!(e instanceof ConfigError) || !re.test(e.message) || e.message.includes("\n")) {
        throw new Error(`${text}: got '${e.message}'`);
      }
      return true;
    });
  }
});

Deno.test("cross-key validation and missing file", () => {
  throws(() => loadConfig(undefined, ["d_H=32"]), /d_H \(32\) must equal hidden_size \(64\)/);
  throws(() => loadConfig(undefined, ["valid_metric=NDCG@50"]), /needs 50 in topk/);
  throws(() => loadConfig("/nonexistent/x.yaml"), /\/nonexistent\/x\.yaml: no such file/);
});
