/**
 * The page state the headless test reads as `window.veloraPage`: the contract between `app.ts`,
 * which keeps it up to date, and `test_browser.ts`, which polls it.
 *
 * @module
 */

import type { LoopResult } from "./train_loop.ts";

/** What the headless test reads (`window.veloraPage`). */
export interface PageState {
  ready: boolean;
  adapter: string;
  training: boolean;
  losses: number[];
  /** Seconds since the run started, at the end of each step. */
  times: number[];
  result: LoopResult | null;
  classification: { label: string; score: number } | null;
  error: string | null;
}
