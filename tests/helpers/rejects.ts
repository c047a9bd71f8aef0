import assert from "node:assert/strict";

/** Asserts that `fn` rejects with an Error whose message matches every pattern. */
export async function rejectsMatching(
  fn: () => Promise<unknown>,
  ...patterns: RegExp[]
): Promise<void> {
  await assert.rejects(fn, (e: Error) => {
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}
