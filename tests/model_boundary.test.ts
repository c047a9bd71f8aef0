// Issue 12: bad ids and absurd configs fail at the model boundary with the tensor / file, the field
// and the limit, instead of being clamped by the embedding kernel or exhausting memory.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { BertConfig } from "../src/models/bert/config.ts";
import { AutoModelForSequenceClassification } from "../src/models/auto/auto.ts";
import { testDevice } from "./helpers/gpu.ts";
import { dir } from "./helpers/bert.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

const roberta = fileURLToPath(new URL("./fixtures/roberta_tiny/", import.meta.url));

Deno.test("token ids outside the vocabulary are an error naming tensor, value and limit", async () => {
  const device = await testDevice();
  for (const [path, vocab] of [[dir, 99], [roberta, 50]] as const) {
    const model = await AutoModelForSequenceClassification.from_pretrained(path, { device });
    const run = (ids: number[], types?: number[]) =>
      noGrad(() =>
        tidy(() => {
          const input_ids = Tensor.from(device, new Int32Array(ids), [1, ids.length]);
          const token_type_ids = types
            ? Tensor.from(device, new Int32Array(types), [1, types.length])
            : null;
          const m = model as unknown as {
            forward(i: object): { logits: Tensor };
          };
          return m.forward({ input_ids, token_type_ids }).logits.keep();
        })
      ).dispose();
    run([2, vocab - 1, 3]);
    assert.throws(
      () => run([2, 300, 3]),
      new RegExp(
        `input_ids\\[0, 1\\] = 300 is outside \\[0, ${vocab}\\) \\(vocab_size = ${vocab}\\)`,
      ),
    );
    assert.throws(() => run([-1, 5]), /input_ids\[0, 0\] = -1 is outside/);
    const types = path === dir ? 2 : 1;
    assert.throws(
      () => run([2, 5, 3], [0, types, 0]),
      new RegExp(`token_type_ids\\[0, 1\\] = ${types} is outside .*type_vocab_size = ${types}`),
    );
    model.dispose();
  }
});

Deno.test("absurd configs are refused before allocation, naming the file and the field", async () => {
  const device = await testDevice();
  await withTempDir(async (tmp) => {
    const base = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    const cases: [Record<string, number>, RegExp][] = [
      [{ hidden_size: 1e9, num_attention_heads: 8 }, /hidden_size/],
      [{ num_hidden_layers: 1e6 }, /num_hidden_layers = 1000000 needs \d+ parameter tensors/],
      [
        { num_hidden_layers: 3000, hidden_size: 4096, num_attention_heads: 8 },
        /num_hidden_layers makes the parameters .* GiB, beyond the 64\.0 GiB/,
      ],
      [{ vocab_size: 2e9 }, /vocab_size × hidden_size gives a .* parameter tensor, beyond/],
    ];
    for (const [fields, message] of cases) {
      await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify({ ...base, ...fields }));
      await Deno.copyFile(`${dir}/model.safetensors`, `${tmp}/model.safetensors`);
      const t0 = performance.now();
      await assert.rejects(
        () => BertForSequenceClassification.from_pretrained(tmp, { device }),
        (e: Error) => {
          assert.match(e.message, message);
          assert.ok(e.message.startsWith(`${tmp}/config.json: `), e.message);
          return true;
        },
      );
      assert.ok(performance.now() - t0 < 2000, "refused at once");
      assert.throws(
        () => new BertForSequenceClassification(device, new BertConfig({ ...base, ...fields })),
        message,
      );
    }
  });
});
