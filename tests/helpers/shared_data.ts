/**
 * Whether the files `files` all exist under `dir` (a folder of the team's `../shared/data`
 * beside the repository, absent on other machines). When one is missing, logs
 * `skipping <what>: <dir> is absent`, so a test `ignore`d on the result says why.
 */
export function sharedPresent(dir: URL, files: readonly string[], what: string): boolean {
  try {
    for (const f of files) Deno.statSync(new URL(f, dir));
    return true;
  } catch {
    console.log(`skipping ${what}: ${dir.pathname} is absent`);
    return false;
  }
}
