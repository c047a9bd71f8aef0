/**
 * `RobertaConfig` (HF `configuration_roberta.py`): BERT's fields with RoBERTa's defaults
 * (vocab_size 50265, pad_token_id 1, type_vocab_size as the file says: 1 in released checkpoints).
 * @module
 */

import { BertConfig, type BertConfigInput, type BertModelType } from "../bert/config.ts";

/** A RoBERTa configuration; `model_type` defaults to "roberta". */
export class RobertaConfig extends BertConfig {
  /** The `model_type` a config of this class has when config.json names none. */
  static override readonly model_type: BertModelType = "roberta";

  /**
   * Builds and validates a config (see `BertConfig`), with RoBERTa's defaults for absent fields.
   * @throws {Error} as `BertConfig`, and for a model_type other than "roberta".
   */
  constructor(json: BertConfigInput = {}, source = "RobertaConfig") {
    super({ vocab_size: 50265, ...json }, source);
    if (this.model_type !== "roberta") {
      throw new Error(
        `${source}: model_type = "${this.model_type}" is not RoBERTa (use BertConfig or AutoConfig)`,
      );
    }
  }
}
