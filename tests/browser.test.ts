// `deno task test` runs the headless-Chromium test of the browser example when Debian's Chromium
// is installed (`.ci/run` installs it), and says it skipped otherwise.
import assert from "node:assert/strict";
import { CHROMIUM } from "../examples/browser/test_browser.ts";

async function hasChromium(): Promise<boolean> {
  try {
    return (await Deno.stat(CHROMIUM)).isFile;
  } catch {
    return false;
  }
}

const present = await hasChromium();
if (!present) {
  console.log(
    `browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run installs it)`,
  );
}

Deno.test({
  name: present
    ? "browser example: in-page training in headless Chromium (deno task test:browser)"
    : `browser example: SKIPPED, no ${CHROMIUM} (apt-get install -y chromium)`,
  ignore: !present,
  async fn() {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../examples/browser/test_browser.ts", import.meta.url).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    console.log(out.trim().split("\n").filter((l) => l.startsWith("browser:")).join("\n"));
    assert.equal(code, 0, out);
  },
});
