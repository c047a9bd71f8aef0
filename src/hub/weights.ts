/**
 * Locating a model's safetensors weights, local or on the hub, single-file or sharded.
 *
 * @module
 */

import { conversionCommand } from "../io/safetensors_refuse.ts";
import {
  findSafetensorsInDir,
  readSafetensorsIndex,
  SAFETENSORS_INDEX_NAME,
  SAFETENSORS_SINGLE_NAME,
} from "../io/safetensors_sharded.ts";
import { resolveModelFile, type ResolveModelFileOptions } from "./resolve.ts";
import { isDirectory } from "./cache.ts";

/** Options of {@link resolveModelWeights}: those of `resolveModelFile` except `required`. */
export type ResolveModelWeightsOptions = Omit<ResolveModelFileOptions, "required">;

/**
 * Resolves a model's weights to a local path that `loadSafetensorsSharded` accepts: the
 * `model.safetensors.index.json` when the model is sharded (every shard is resolved into the
 * same folder too), else `model.safetensors`.
 *
 * @param idOrDir local model directory or hub repo id
 * @param options revision, cache_dir, local_files_only, progress_callback, endpoint, token
 * @returns path of the index or the single safetensors file
 * @throws Error naming the directory or repo id and revision when it has no safetensors weights
 * (with the command that converts `pytorch_model.bin`), plus any `resolveModelFile` error.
 */
export async function resolveModelWeights(
  idOrDir: string,
  options: ResolveModelWeightsOptions = {},
): Promise<string> {
  if (await isDirectory(idOrDir)) return await findSafetensorsInDir(idOrDir);
  const index = await resolveModelFile(idOrDir, SAFETENSORS_INDEX_NAME, {
    ...options,
    required: false,
  });
  if (index !== null) {
    const { shards } = await readSafetensorsIndex(index);
    for (const shard of shards) await resolveModelFile(idOrDir, shard, options);
    return index;
  }
  const single = await resolveModelFile(idOrDir, SAFETENSORS_SINGLE_NAME, {
    ...options,
    required: false,
  });
  if (single !== null) return single;
  throw new Error(
    `repository "${idOrDir}" at revision "${options.revision ?? "main"}" has no ` +
      `${SAFETENSORS_SINGLE_NAME} or ${SAFETENSORS_INDEX_NAME}` +
      (options.local_files_only ? " in the cache (local_files_only is set)" : "") +
      `; if it only has pytorch_model.bin, convert it: ${conversionCommand(idOrDir)}`,
  );
}
