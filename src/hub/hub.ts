/**
 * Hugging Face hub access: resolving model files from a local directory or the hub, with a
 * cache laid out like `huggingface_hub`'s (shared with Python), and locating safetensors weights.
 *
 * @module
 */

export { fetchModelFile, type FetchModelFileOptions } from "./fetch_hub.ts";
export { resolveModelFile, type ResolveModelFileOptions } from "./resolve.ts";
export { resolveModelWeights, type ResolveModelWeightsOptions } from "./weights.ts";
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_METADATA_BYTES,
  MAX_REDIRECTS,
  type ProgressCallback,
  type ProgressInfo,
} from "./download.ts";
export {
  DEFAULT_ENDPOINT,
  defaultCacheDir,
  type EnvGetter,
  hubEndpoint,
  hubOffline,
  hubTimeouts,
  hubToken,
} from "./env.ts";
export { repoFolderName } from "./repo.ts";
