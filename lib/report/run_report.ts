/**
 * The run report: `report.md` (results table, protocol, per-epoch table), `curve.svg`
 * (validation HR@10 / NDCG@10 per epoch) and `loss.svg` (training loss per epoch).
 *
 * @module
 */

import { writeFileAtomic } from "../io/atomic.ts";
import type { EpochRecord } from "../train/trainer.ts";
import { lineChart } from "./svg.ts";

/** The summary a run ends with (also written as results.json). */
export interface RunResults {
  model: string;
  model_type: string;
  data: string;
  bestEpoch: number;
  epochs: number;
  seconds: number;
  adapter: string;
  protocol: Record<string, string>;
  valid: Record<string, number>;
  test: Record<string, number>;
}

/** Writes report.md and curve.svg into `runDir`. */
export async function writeRunReport(
  runDir: string,
  r: RunResults,
  history: EpochRecord[],
): Promise<void> {
  const ks = [5, 10, 20].filter((k) => `hr@${k}` in r.test);
  const row = (name: string, m: Record<string, number>) =>
    `| ${name} | ${
      ks.map((k) =>
        `${m[`hr@${k}`].toFixed(4)} | ${m[`ndcg@${k}`].toFixed(4)} | ${m[`mrr@${k}`].toFixed(4)}`
      ).join(" | ")
    } |`;
  const md = [
    `# ${r.model} (${r.model_type}) on ${r.data}`,
    "",
    `Best epoch ${r.bestEpoch} of ${r.epochs}; ${
      r.seconds.toFixed(1)
    } s of training on ${r.adapter}.`,
    `Protocol: ${Object.entries(r.protocol).map(([k, v]) => `${k}: ${v}`).join("; ")}.`,
    "",
    `| split | ${ks.map((k) => `HR@${k} | NDCG@${k} | MRR@${k}`).join(" | ")} |`,
    `|---|${ks.map(() => "---|---|---").join("|")}|`,
    row("valid", r.valid),
    row("test", r.test),
    "",
    "![validation curve](curve.svg) ![training loss](loss.svg)",
    "",
    "| epoch | train loss | valid HR@10 | valid NDCG@10 | seconds |",
    "|---|---|---|---|---|",
    ...history.map((h) =>
      `| ${h.epoch} | ${h.trainLoss.toFixed(4)} | ${(h.valid["hr@10"] ?? NaN).toFixed(4)} | ${
        (h.valid["ndcg@10"] ?? NaN).toFixed(4)
      } | ${h.seconds.toFixed(1)} |`
    ),
    "",
  ].join("\n");
  await writeFileAtomic(`${runDir}/report.md`, md);
  const curve = lineChart([
    { name: "valid HR@10", points: history.map((h) => [h.epoch, h.valid["hr@10"]]) },
    { name: "valid NDCG@10", points: history.map((h) => [h.epoch, h.valid["ndcg@10"]]) },
  ], { title: `${r.model} on ${r.data}: validation`, xLabel: "epoch", yLabel: "metric" });
  await writeFileAtomic(`${runDir}/curve.svg`, curve);
  const loss = lineChart(
    [{ name: "train loss", points: history.map((h) => [h.epoch, h.trainLoss]) }],
    { title: `${r.model} on ${r.data}: training loss`, xLabel: "epoch", yLabel: "loss" },
  );
  await writeFileAtomic(`${runDir}/loss.svg`, loss);
}
