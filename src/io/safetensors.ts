/**
 * Safetensors I/O (https://github.com/huggingface/safetensors): header inspection, loading
 * (single file or sharded with `model.safetensors.index.json`), and atomic saving.
 * PyTorch pickle checkpoints (`pytorch_model.bin`) are refused with the command that converts them.
 *
 * @module
 */

export {
  type LoadedTensor,
  loadSafetensors,
  type LoadSafetensorsOptions,
} from "./safetensors_read.ts";
export {
  MAX_HEADER_BYTES,
  readSafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from "./safetensors_header.ts";
export { SAFETENSORS_DTYPE_SIZES, type SafetensorsDtype } from "./safetensors_dtype.ts";
export { loadSafetensorsFromBuffer, serializeSafetensors } from "./safetensors_buffer.ts";
export {
  saveSafetensors,
  type SaveSafetensorsTensor,
  type SaveSafetensorsTensors,
} from "./safetensors_write.ts";
export {
  findSafetensorsInDir,
  loadSafetensorsSharded,
  readSafetensorsIndex,
  SAFETENSORS_INDEX_NAME,
  SAFETENSORS_SINGLE_NAME,
  type SafetensorsIndex,
} from "./safetensors_sharded.ts";
export {
  DEFAULT_MAX_SHARD_SIZE,
  parseShardSize,
  planShards,
  saveSafetensorsShards,
  type SaveShardsOptions,
  type ShardPlan,
  type ShardTensor,
} from "./safetensors_shard_write.ts";
export { conversionCommand, pytorchRefusalMessage } from "./safetensors_refuse.ts";
