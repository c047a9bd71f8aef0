import type { Module } from "../nn/module.ts";
import { Linear } from "../nn/linear.ts";
import { type LoraConfig, SEQ_CLS_HEAD_NAMES, type TargetModules } from "./config.ts";

/** PEFT's shorthand for every linear layer but the output head. */
export const ALL_LINEAR = "all-linear";

/** `key` equals `name` or ends with "." + `name` (PEFT's suffix rule). */
export function matchesName(key: string, name: string): boolean {
  return key === name || key.endsWith(`.${name}`);
}

function fullMatch(re: RegExp | string): (key: string) => boolean {
  const src = re instanceof RegExp ? re.source : re;
  const flags = re instanceof RegExp ? re.flags.replace("g", "") : "";
  const full = new RegExp(`^(?:${src})$`, flags);
  return (key) => full.test(key);
}

/**
 * A predicate for PEFT `target_modules`: a list of names/suffixes (RegExp entries must match the
 * whole name), one RegExp or one string other than "all-linear" (a full-match pattern, as PEFT
 * reads a string).
 */
export function targetMatcher(targets: TargetModules): (key: string) => boolean {
  if (typeof targets === "string" || targets instanceof RegExp) return fullMatch(targets);
  const tests = targets.map((t) =>
    t instanceof RegExp ? fullMatch(t) : (k: string) => matchesName(k, t)
  );
  return (key) => tests.some((f) => f(key));
}

/**
 * The names of the linear layers `config.target_modules` selects in `model`, in module order.
 * "all-linear" takes every `Linear` except the output head (`lm_head`, or for task_type SEQ_CLS
 * the `classifier`/`score` head), as PEFT does.
 * @throws {Error} listing candidate linear layers when nothing matches, and naming any matched
 * module that is not a linear layer.
 */
export function resolveTargets(model: Module, config: LoraConfig): string[] {
  const modules = [...model.named_modules()].filter(([n]) => n !== "");
  const linears = modules.filter(([, m]) => m instanceof Linear).map(([n]) => n);
  const targets = config.target_modules;
  if (targets === null) {
    throw new Error(
      `LoraConfig: target_modules is required (names such as ["query", "value"], a RegExp or ` +
        `"all-linear"); linear layers: ${linears.slice(0, 8).join(", ")}, ...`,
    );
  }
  if (typeof targets === "string" && targets.toLowerCase() === ALL_LINEAR) {
    const exclude = new Set<string>();
    const top = new Map(model.named_children());
    if (top.get("lm_head")) exclude.add("lm_head");
    else if (config.task_type === "SEQ_CLS") {
      const head = SEQ_CLS_HEAD_NAMES.find((n) => top.has(n));
      if (head) exclude.add(head);
    }
    return linears.filter((n) => !exclude.has(n));
  }
  const match = targetMatcher(targets);
  const hits = modules.filter(([n]) => match(n));
  const candidates = `candidate linear layers: ${linears.slice(0, 12).join(", ")}${
    linears.length > 12 ? ", ..." : ""
  }`;
  if (!hits.length) {
    throw new Error(
      `LoraConfig: target_modules ${describe(targets)} matched no module of ` +
        `${model.constructor.name}; ${candidates}`,
    );
  }
  const bad = hits.filter(([, m]) => !(m instanceof Linear));
  if (bad.length) {
    throw new Error(
      `LoraConfig: target module ${
        bad.map(([n, m]) => `"${n}" (${m.constructor.name})`).join(", ")
      } is not supported: only linear layers can take LoRA; ${candidates}`,
    );
  }
  return hits.map(([n]) => n);
}

function describe(t: TargetModules): string {
  if (t instanceof RegExp) return String(t);
  if (typeof t === "string") return JSON.stringify(t);
  return `[${t.map((x) => (x instanceof RegExp ? String(x) : JSON.stringify(x))).join(", ")}]`;
}

/** Sets the module at dotted `path` under `root` to `value`. */
export function setModule(root: Module, path: string, value: Module): void {
  const parts = path.split(".");
  let obj = root as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) obj = obj[p] as Record<string, unknown>;
  obj[parts[parts.length - 1]] = value;
}
