/** A small SS4Rec on the shipped ml-latest-small, shared by the model-level tests. */
import { type Config, loadConfig } from "../lib/config.ts";
import type { SequentialDataset } from "../lib/data/dataset.ts";
import { datasetFor } from "../tasks/train.ts";

/**
 * configs/ss4rec.yaml narrowed for a software adapter (H 16, P 8, N 8; dropout 0.3 so masks
 * matter) at maximum length `L`, and its dataset.
 */
export async function smallSS4Rec(L: number): Promise<{ cfg: Config; ds: SequentialDataset }> {
  const cfg = loadConfig("configs/ss4rec.yaml", [
    "hidden_size=16",
    "d_H=16",
    "d_P=8",
    "d_state=8",
    `MAX_ITEM_LIST_LENGTH=${L}`,
    "dropout_prob=0.3",
  ]);
  return { cfg, ds: await datasetFor(cfg) };
}
