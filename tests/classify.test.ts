// examples/classify.ts (issue 12): texts starting with "-", --file, checkpoint folders.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { withTempDir } from "./helpers/temp_dir.ts";

const script = fileURLToPath(new URL("../examples/classify.ts", import.meta.url));
const tiny = fileURLToPath(new URL("./fixtures/bert_tiny/", import.meta.url));
const words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
for (let i = words.length; i < 99; i++) words.push(`w${i}`);

async function run(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("classify.ts: checkpoint folder (tokenizer from the run dir), --file, -- for '-' texts", async () => {
  await withTempDir(async (tmp) => {
    // A run folder with the tokenizer; its checkpoint holds only config + weights.
    const ckpt = `${tmp}/run/checkpoint-7`;
    await Deno.mkdir(ckpt, { recursive: true });
    await Deno.writeTextFile(`${tmp}/run/vocab.txt`, words.join("\n") + "\n");
    for (const f of ["config.json", "model.safetensors"]) {
      await Deno.copyFile(`${tiny}/${f}`, `${ckpt}/${f}`);
    }
    await Deno.writeTextFile(`${tmp}/texts.txt`, "w17 w45\n\nw88 w9 w30\r\nw5\n");
    const ok = await run(["--model", ckpt, "--json", "--file", `${tmp}/texts.txt`, "--", "-5% w9"]);
    assert.equal(ok.code, 0, ok.stderr);
    const out = JSON.parse(ok.stdout) as { text: string; label: string }[];
    assert.deepEqual(out.map((r) => r.text), ["-5% w9", "w17 w45", "w88 w9 w30", "w5"]);
    assert.ok(out.every((r) => /^LABEL_[012]$/.test(r.label)));

    const dash = await run(["--model", ckpt, "-5% w9"]);
    assert.equal(dash.code, 2);
    assert.match(dash.stderr, /A text starting with "-" goes after "--"/);
    assert.doesNotMatch(dash.stderr, /\n\s+at /, "no stack trace");

    await Deno.remove(`${tmp}/run/vocab.txt`);
    const none = await run(["--model", ckpt, "w5"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /has no tokenizer .* pass --tokenizer/);
    assert.doesNotMatch(none.stderr, /\n\s+at /);
  });
});
