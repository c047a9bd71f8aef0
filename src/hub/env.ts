/**
 * Hugging Face hub settings taken from the environment, with the precedence of the Python
 * `huggingface_hub` library (`huggingface_hub/constants.py`).
 *
 * @module
 */

import { join } from "node:path";
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from "./download.ts";

/** Reads one environment variable; returns undefined when unset or not permitted. */
export type EnvGetter = (name: string) => string | undefined;

/** `Deno.env.get` that returns undefined instead of throwing without `--allow-env`. */
export const denoEnv: EnvGetter = (name) => {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
};

/** The hub used when `HF_ENDPOINT` is unset. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** Hub base URL: env `HF_ENDPOINT` (trailing slashes removed), else https://huggingface.co. */
export function hubEndpoint(env: EnvGetter = denoEnv): string {
  return (env("HF_ENDPOINT") ?? DEFAULT_ENDPOINT).replace(/\/+$/, "");
}

function homeDir(env: EnvGetter): string {
  const home = env("HOME") ?? env("USERPROFILE");
  if (home) return home;
  throw new Error(
    "cannot find the home directory for the Hugging Face cache: set HF_HUB_CACHE or HF_HOME, or pass cache_dir",
  );
}

function expandUser(path: string, env: EnvGetter): string {
  return path === "~" || path.startsWith("~/") ? homeDir(env) + path.slice(1) : path;
}

/**
 * Hub cache directory: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else `${HF_HOME}/hub`,
 * else `${XDG_CACHE_HOME}/huggingface/hub`, else `~/.cache/huggingface/hub`.
 *
 * @throws Error when none is set and the home directory is unknown.
 */
export function defaultCacheDir(env: EnvGetter = denoEnv): string {
  const direct = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE");
  if (direct) return expandUser(direct, env);
  const hfHome = env("HF_HOME");
  if (hfHome) return join(expandUser(hfHome, env), "hub");
  const xdg = env("XDG_CACHE_HOME");
  return join(xdg ? expandUser(xdg, env) : join(homeDir(env), ".cache"), "huggingface", "hub");
}

/** Access token for private or gated repos: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`. */
export function hubToken(env: EnvGetter = denoEnv): string | undefined {
  return env("HF_TOKEN") ?? env("HUGGING_FACE_HUB_TOKEN");
}

/** True when `HF_HUB_OFFLINE` is set to 1/true/yes/on: behave as `local_files_only`. */
export function hubOffline(env: EnvGetter = denoEnv): boolean {
  return /^(1|true|yes|on)$/i.test(env("HF_HUB_OFFLINE") ?? "");
}

function seconds(env: EnvGetter, name: string, fallbackMs: number): number {
  const raw = env(name);
  if (raw === undefined) return fallbackMs;
  const s = Number(raw);
  if (!(s > 0) || !Number.isFinite(s)) {
    throw new Error(`env ${name}=${JSON.stringify(raw)}: expected a positive number of seconds`);
  }
  return s * 1000;
}

/**
 * Hub timeouts from the environment, as `huggingface_hub` names them: `HF_HUB_ETAG_TIMEOUT`
 * (seconds to wait for response headers, default 10) and `HF_HUB_DOWNLOAD_TIMEOUT` (seconds a body
 * may stall, default 10).
 *
 * @throws Error naming the variable when it is not a positive number.
 */
export function hubTimeouts(
  env: EnvGetter = denoEnv,
): { connectTimeoutMs: number; idleTimeoutMs: number } {
  return {
    connectTimeoutMs: seconds(env, "HF_HUB_ETAG_TIMEOUT", DEFAULT_CONNECT_TIMEOUT_MS),
    idleTimeoutMs: seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT", DEFAULT_IDLE_TIMEOUT_MS),
  };
}
