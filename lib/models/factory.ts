/**
 * Builds the configured model: one place that maps config keys (RecBole names) to model options.
 *
 * @module
 */

import type { Config } from "../config.ts";
import type { Runtime } from "../gpu/runtime.ts";
import type { RecModel } from "./model.ts";
import { NCF, ncfTrainHistory } from "./ncf.ts";
import { SS4Rec, type SS4RecOptions } from "./ss4rec.ts";

/** SS4Rec options from a config and the dataset's item count. */
export function ss4recOptions(cfg: Config, numItems: number): SS4RecOptions {
  if (cfg.d_H !== cfg.hidden_size) {
    throw new Error(`config: d_H (${cfg.d_H}) must equal hidden_size (${cfg.hidden_size})`);
  }
  return {
    numItems,
    hiddenSize: cfg.hidden_size,
    numLayers: cfg.n_layers,
    dropoutProb: cfg.dropout_prob,
    dP: cfg.d_P,
    dtMin: cfg.dt_min,
    dtMax: cfg.dt_max,
    dState: cfg.d_state,
    dConv: cfg.d_conv,
    expand: cfg.expand,
    modelType: cfg.model_type as SS4RecOptions["modelType"],
    lossType: cfg.loss_type,
    s5ClipEigs: cfg.s5_clip_eigs,
    recompute: cfg.recompute,
  };
}

/** The model named by `cfg.model` (parameters allocated, not yet initialised). */
export function createModel(
  rt: Runtime,
  cfg: Config,
  ds: { numItems: number; numUsers: number },
): RecModel {
  switch (cfg.model.toLowerCase()) {
    case "ss4rec":
      return new SS4Rec(rt, ss4recOptions(cfg, ds.numItems));
    case "ncf":
    case "neumf":
      return new NCF(rt, {
        numItems: ds.numItems,
        numUsers: ds.numUsers,
        mfEmbeddingSize: cfg.mf_embedding_size,
        mlpEmbeddingSize: cfg.mlp_embedding_size,
        mlpHiddenSize: cfg.mlp_hidden_size,
        dropoutProb: cfg.dropout_prob,
        history: ncfTrainHistory(ds),
      });
    default:
      throw new Error(
        `config: model '${cfg.model}' is not trainable here (expected SS4Rec or NCF)`,
      );
  }
}
