import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { pipeline } from "../src/pipelines/mod.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { tidy } from "../src/tensor/scope.ts";
import { noGrad } from "../src/autograd/grad_mode.ts";
import { BertForSequenceClassification } from "../src/models/bert/modeling_bert.ts";
import { PreTrainedTokenizer } from "../src/data/auto_tokenizer.ts";
import { testDevice } from "./helpers/gpu.ts";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));
const SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
/** A WordPiece vocabulary of `n` ids: BERT's special tokens first, then w5, w6, .... */
const vocab = (
  n: number,
  special = SPECIAL,
) => [
  ...special,
  ...Array.from({ length: n - special.length }, (_, i) => `w${i + special.length}`),
];

/** A copy of a fixture model folder with a vocab.txt, as a checkpoint folder would have. */
async function withVocab(name: string, words: string[]): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const f of ["config.json", "model.safetensors"]) {
    await Deno.copyFile(`${fixture(name)}/${f}`, `${dir}/${f}`);
  }
  await Deno.writeTextFile(`${dir}/vocab.txt`, words.join("\n") + "\n");
  return dir;
}

Deno.test("text-classification: transformers.js outputs, labels from id2label, top_k", async () => {
  const device = await testDevice();
  const dir = await withVocab("bert_tiny", vocab(99));
  try {
    const classify = await pipeline("text-classification", dir, { device, warn: () => {} });
    const one = await classify("w17 w45 w88") as { label: string; score: number }[];
    assert.equal(one.length, 1);
    assert.match(one[0].label, /^LABEL_[012]$/);
    // The same forward by hand: the top label's softmax probability.
    const tok = await PreTrainedTokenizer.fromVocab(vocab(99));
    const model = await BertForSequenceClassification.from_pretrained(dir, { device });
    const enc = tok.batch(["w17 w45 w88"]);
    const logits = noGrad(() =>
      tidy(() => {
        const s = [enc.batch, enc.seqLen];
        return model.forward({
          input_ids: Tensor.from(device, enc.input_ids, s),
          attention_mask: Tensor.from(device, enc.attention_mask, s),
        }).logits.keep();
      })
    );
    const l = Array.from(await logits.toArray());
    const z = l.map((v) => Math.exp(v - Math.max(...l)));
    const p = z.map((v) => v / z.reduce((a, b) => a + b));
    assert.ok(Math.abs(one[0].score - Math.max(...p)) < 1e-5);
    assert.equal(one[0].label, `LABEL_${p.indexOf(Math.max(...p))}`);
    logits.dispose();
    model.dispose();

    const all = await classify("w17 w45 w88", { top_k: null }) as { score: number }[];
    assert.equal(all.length, 3);
    assert.ok(Math.abs(all.reduce((a, b) => a + b.score, 0) - 1) < 1e-5);
    assert.ok(all[0].score >= all[1].score && all[1].score >= all[2].score);
    const many = await classify(["w17", "w30 w31", "w9"], { top_k: 2 }) as unknown[][];
    assert.equal(many.length, 3);
    assert.ok(many.every((r) => r.length === 2));
    // Truncation to what the model accepts (max_position_embeddings 64) instead of an error.
    const long = await classify(Array(200).fill("w20").join(" "));
    assert.equal((long as unknown[]).length, 1);
    classify.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("text-classification on RoBERTa names labels from id2label", async () => {
  const device = await testDevice();
  const dir = await withVocab(
    "roberta_tiny",
    vocab(50, ["[CLS]", "[PAD]", "[SEP]", "[MASK]", "[UNK]"]),
  );
  try {
    const classify = await pipeline("text-classification", dir, { device });
    const [r] = await classify("w7 w9") as { label: string }[];
    assert.ok(["negative", "neutral", "positive"].includes(r.label), r.label);
    classify.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fill-mask: top 5 tokens at the mask, sequences, clear errors", async () => {
  const device = await testDevice();
  const dir = await withVocab("bert_tiny_mlm", vocab(50));
  try {
    const unmask = await pipeline("fill-mask", dir, { device });
    const out = await unmask("w17 [MASK] w44") as {
      score: number;
      token: number;
      token_str: string;
      sequence: string;
    }[];
    assert.equal(out.length, 5);
    for (let i = 1; i < out.length; i++) assert.ok(out[i - 1].score >= out[i].score);
    for (const o of out) {
      assert.equal(o.sequence, `w17 ${o.token_str} w44`.replace(/ +/g, " ").trim());
      assert.ok(o.token >= 0 && o.token < 50);
    }
    const two = await unmask(["[MASK] w9", "w9 [MASK]"], { top_k: 2 }) as unknown[][];
    assert.deepEqual(two.map((r) => r.length), [2, 2]);
    await assert.rejects(() => unmask("no mask here"), /mask token \(\[MASK\]\) not found in text/);
    unmask.dispose();
    await assert.rejects(
      () => pipeline("summarization", dir, { device }),
      /unknown task "summarization" \(supported: "text-classification", "fill-mask"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
