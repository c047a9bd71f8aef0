import assert from "node:assert/strict";
import { join } from "node:path";
import {
  loadSafetensors,
  loadSafetensorsSharded,
  readSafetensorsHeader,
  readSafetensorsIndex,
  saveSafetensors,
} from "../src/io/safetensors.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { sharedPresent } from "./helpers/shared_data.ts";

const FIXTURE_DIR = new URL(
  "../../shared/data/fixtures/tiny-bert-random-safetensors/",
  import.meta.url,
);
const fixturePresent = sharedPresent(FIXTURE_DIR, ["model.safetensors"], "HF fixture tests");

/** Writes a raw safetensors-like file: u64 length (or `lenOverride`), header text, data bytes. */
async function writeRaw(
  path: string,
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  lenOverride?: bigint,
): Promise<void> {
  const text = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + text.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, lenOverride ?? BigInt(text.byteLength), true);
  out.set(text, 8);
  out.set(data, 8 + text.byteLength);
  await Deno.writeFile(path, out);
}

function u16le(values: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(values).buffer);
}

/** Asserts `fn` rejects within a second with a message matching every pattern. */
async function assertFailsFast(fn: () => Promise<unknown>, ...patterns: RegExp[]) {
  const t0 = performance.now();
  let message = "";
  try {
    await fn();
  } catch (e) {
    message = (e as Error).message;
  }
  const ms = performance.now() - t0;
  assert.ok(message !== "", `expected a rejection matching ${patterns.join(" ")}`);
  for (const p of patterns) assert.match(message, p);
  assert.ok(ms < 1000, `took ${ms} ms: ${message}`);
}

Deno.test("round trip F32 and I32 with metadata, 8-byte aligned data area", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "m.safetensors");
    const w = new Float32Array([1.5, -2, 3.25, 0, NaN, Infinity]);
    const ids = new Int32Array([7, -1, 2147483647]);
    await saveSafetensors(path, {
      "b.weight": { shape: [2, 3], data: w },
      "a.ids": { shape: [3], data: ids },
      scalar: { shape: [], data: new Float32Array([42]) },
      empty: { shape: [0, 4], data: new Float32Array(0) },
    }, { format: "pt" });
    const header = await readSafetensorsHeader(path);
    assert.equal(header.dataStart % 8, 0);
    assert.deepEqual(header.metadata, { format: "pt" });
    assert.deepEqual(header.entries.map((e) => e.name), ["a.ids", "b.weight", "empty", "scalar"]);
    const loaded = await loadSafetensors(path);
    assert.equal(loaded.get("b.weight")!.dtype, "F32");
    assert.deepEqual(loaded.get("b.weight")!.shape, [2, 3]);
    assert.deepEqual(loaded.get("b.weight")!.data, w);
    assert.ok(loaded.get("a.ids")!.data instanceof Int32Array);
    assert.deepEqual(loaded.get("a.ids")!.data, ids);
    assert.deepEqual(loaded.get("scalar")!.shape, []);
    assert.deepEqual([...loaded.get("scalar")!.data], [42]);
    assert.equal(loaded.get("empty")!.data.length, 0);

    const subset = await loadSafetensors(path, { names: ["scalar", "a.ids"] });
    assert.deepEqual([...subset.keys()], ["scalar", "a.ids"]);
    await assertFailsFast(
      () => loadSafetensors(path, { names: ["nope"] }),
      /m\.safetensors/,
      /"nope"/,
    );

    // A Map input and a subarray view (non-zero byteOffset) are accepted too.
    const backing = new Float32Array([9, 1, 2, 3]);
    await saveSafetensors(path, new Map([["v", { shape: [3], data: backing.subarray(1) }]]));
    assert.deepEqual([...(await loadSafetensors(path)).get("v")!.data], [1, 2, 3]);
    // transformers refuses files without a metadata format: "pt" is written by default.
    assert.deepEqual((await readSafetensorsHeader(path)).metadata, { format: "pt" });
  });
});

Deno.test("F16, BF16, F64 decode to exact float32; I64 narrows to Int32Array", async () => {
  await withTempDir(async (dir) => {
    const f16 = u16le([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x7c00, 0xfc00, 0x7e00, 0x8000]);
    const bf16 = u16le([0x3f80, 0xc040, 0x4049, 0x7f80, 0x0001, 0x0000]);
    const f64 = new Uint8Array(new Float64Array([0.1, -1e3]).buffer);
    const i64 = new Uint8Array(new BigInt64Array([3n, -5n, 2147483647n]).buffer);
    const parts = [f16, bf16, f64, i64];
    const data = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
    let off = 0;
    const offsets = parts.map((p) => {
      data.set(p, off);
      off += p.byteLength;
      return [off - p.byteLength, off];
    });
    const path = join(dir, "half.safetensors");
    await writeRaw(path, {
      h: { dtype: "F16", shape: [9], data_offsets: offsets[0] },
      b: { dtype: "BF16", shape: [2, 3], data_offsets: offsets[1] },
      d: { dtype: "F64", shape: [2], data_offsets: offsets[2] },
      i: { dtype: "I64", shape: [3], data_offsets: offsets[3] },
    }, data);
    const t = await loadSafetensors(path);
    const h = [...t.get("h")!.data];
    assert.deepEqual(h.slice(0, 7), [1, -2, 65504, 2 ** -24, 0.333251953125, Infinity, -Infinity]);
    assert.ok(Number.isNaN(h[7]));
    assert.ok(Object.is(h[8], -0));
    assert.deepEqual([...t.get("b")!.data], [1, -3, 3.140625, Infinity, 2 ** -133, 0]);
    assert.deepEqual(t.get("b")!.shape, [2, 3]);
    assert.deepEqual([...t.get("d")!.data], [Math.fround(0.1), -1000]);
    assert.ok(t.get("i")!.data instanceof Int32Array);
    assert.deepEqual([...t.get("i")!.data], [3, -5, 2147483647]);
  });
});

Deno.test("I64 outside int32 and F8 tensors give errors naming the tensor", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "big.safetensors");
    await writeRaw(
      path,
      { ids: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
      new Uint8Array(new BigInt64Array([2n ** 40n]).buffer),
    );
    await assertFailsFast(() => loadSafetensors(path), /big\.safetensors/, /"ids"/, /int32/);
    await writeRaw(path, { q: { dtype: "F8_E4M3", shape: [2], data_offsets: [0, 2] } }, u16le([0]));
    assert.equal((await readSafetensorsHeader(path)).entries[0].dtype, "F8_E4M3");
    await assertFailsFast(() => loadSafetensors(path), /"q"/, /F8_E4M3 is not supported/);
  });
});

Deno.test("corrupt files fail fast with errors naming the file and tensor", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "bad.safetensors");
    const ok = { w: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } };
    const cases: [string, () => Promise<void>, RegExp[]][] = [
      ["empty file", () => Deno.writeFile(path, new Uint8Array(3)), [/shorter than the 8-byte/]],
      ["header length 2^60", () => writeRaw(path, ok, new Uint8Array(16), 2n ** 60n), [
        /header length 1152921504606846976 exceeds/,
      ]],
      ["header past end", () => writeRaw(path, ok, new Uint8Array(16), 5000n), [
        /header length 5000 exceeds the file size/,
      ]],
      ["not JSON", () => writeRaw(path, "{not json", new Uint8Array(16)), [/not valid UTF-8 JSON/]],
      [
        "not UTF-8",
        () =>
          writeRaw(path, "{}", new Uint8Array(0)).then(() =>
            Deno.writeFile(path, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]))
          ),
        [/not valid UTF-8 JSON/],
      ],
      ["JSON array", () => writeRaw(path, "[1,2]"), [/must be a JSON object/]],
      ["truncated data", () => writeRaw(path, ok, new Uint8Array(10)), [
        /tensor "w"/,
        /extend past the data area \(10 bytes\)/,
      ]],
      ["offsets past end", () =>
        writeRaw(path, {
          w: { dtype: "F32", shape: [2, 2], data_offsets: [1000, 1016] },
        }, new Uint8Array(16)), [/tensor "w"/, /\[1000, 1016\] extend past/]],
      ["overlap", () =>
        writeRaw(path, {
          a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
          b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
        }, new Uint8Array(16)), [/tensor "b"/, /overlap tensor "a"/]],
      ["dtype/size mismatch", () =>
        writeRaw(path, {
          w: { dtype: "F16", shape: [2, 2], data_offsets: [0, 16] },
        }, new Uint8Array(16)), [/tensor "w"/, /needs 8 bytes/, /span 16/]],
      ["unknown dtype", () =>
        writeRaw(path, {
          w: { dtype: "F128", shape: [1], data_offsets: [0, 16] },
        }, new Uint8Array(16)), [/tensor "w"/, /unknown dtype "F128"/]],
      ["negative dim", () =>
        writeRaw(path, {
          w: { dtype: "F32", shape: [-4], data_offsets: [0, 16] },
        }, new Uint8Array(16)), [/tensor "w"/, /shape must be/]],
      ["fractional dim", () =>
        writeRaw(path, {
          w: { dtype: "F32", shape: [1.5], data_offsets: [0, 16] },
        }, new Uint8Array(16)), [/tensor "w"/, /shape must be/]],
      ["end before begin", () =>
        writeRaw(path, {
          w: { dtype: "F32", shape: [0], data_offsets: [8, 0] },
        }, new Uint8Array(16)), [/tensor "w"/, /end before begin/]],
      ["huge shape", () =>
        writeRaw(path, {
          w: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 16] },
        }, new Uint8Array(16)), [/tensor "w"/, /too large/]],
      [
        "missing data_offsets",
        () => writeRaw(path, { w: { dtype: "F32", shape: [4] } }, new Uint8Array(16)),
        [
          /tensor "w"/,
          /data_offsets must be/,
        ],
      ],
      [
        "bad metadata",
        () => writeRaw(path, { __metadata__: { n: 1 }, ...ok }, new Uint8Array(16)),
        [
          /"__metadata__" value for key "n"/,
        ],
      ],
    ];
    for (const [what, make, patterns] of cases) {
      await make();
      await assertFailsFast(() => readSafetensorsHeader(path), /bad\.safetensors/, ...patterns)
        .catch((e) => {
          throw new Error(`case "${what}": ${e.message}`);
        });
      await assertFailsFast(() => loadSafetensors(path), /bad\.safetensors/, ...patterns);
    }
    await Deno.writeTextFile(
      path,
      "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 440473133\n",
    );
    await assertFailsFast(() => loadSafetensors(path), /Git LFS pointer/, /git lfs pull/);
    await assertFailsFast(
      () => loadSafetensors(join(dir, "absent.safetensors")),
      /absent\.safetensors: safetensors file not found/,
    );
  });
});

Deno.test("gaps, trailing bytes and duplicate keys are refused, as the reference does", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "bad.safetensors");
    const data = new Uint8Array(24);
    // A hole before the first tensor.
    await writeRaw(path, { w: { dtype: "F32", shape: [2], data_offsets: [16, 24] } }, data);
    await assertFailsFast(
      () => loadSafetensors(path),
      /bad\.safetensors: gap of 16 bytes in the data area before tensor "w"/,
    );
    // A hole between two tensors.
    await writeRaw(path, {
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [16, 24] },
    }, data);
    await assertFailsFast(() => loadSafetensors(path), /gap of 8 bytes .* before tensor "b"/);
    // Bytes after the last tensor.
    await writeRaw(path, { a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, data);
    await assertFailsFast(() => readSafetensorsHeader(path), /8 trailing bytes/);
    // The same tensor name twice: JSON.parse would keep the second silently.
    const entry = (o: number) => `{"dtype":"F32","shape":[2],"data_offsets":[${o},${o + 8}]}`;
    await writeRaw(path, `{"a":${entry(0)},"b":${entry(8)},"a":${entry(16)}}`, data);
    await assertFailsFast(() => loadSafetensors(path), /has the key "a" twice; file corrupt/);
    // Equal after unescaping, and inside an entry.
    await writeRaw(path, `{"a":${entry(0)},"b":${entry(8)},"\\u0061":${entry(16)}}`, data);
    await assertFailsFast(() => loadSafetensors(path), /has the key "a" twice/);
    await writeRaw(
      path,
      `{"a":{"dtype":"F32","shape":[2],"dtype":"F32","data_offsets":[0,24]}}`,
      data,
    );
    await assertFailsFast(() => loadSafetensors(path), /has the key "dtype" twice in "a"/);
    // Keys may repeat across objects and inside strings.
    await writeRaw(path, {
      __metadata__: { a: '"a":', format: "pt" },
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [4], data_offsets: [8, 24] },
    }, data);
    assert.deepEqual([...(await loadSafetensors(path)).keys()], ["a", "b"]);
  });
});

Deno.test("a 3 MB header with 50,000 tensors is validated and loaded quickly", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "many.safetensors");
    const n = 50_000;
    const header: Record<string, unknown> = {};
    // Reverse offset order, so validation has to sort.
    for (let i = 0; i < n; i++) {
      header[`layer.${i}.w`] = {
        dtype: "F32",
        shape: [1],
        data_offsets: [(n - 1 - i) * 4, (n - i) * 4],
      };
    }
    const data = new Uint8Array(n * 4);
    new Float32Array(data.buffer).forEach((_, i, a) => (a[i] = i));
    await writeRaw(path, header, data);
    const t0 = performance.now();
    const loaded = await loadSafetensors(path);
    const ms = performance.now() - t0;
    assert.equal(loaded.size, n);
    assert.deepEqual([...loaded.get("layer.0.w")!.data], [n - 1]);
    assert.ok(ms < 4000, `50,000-tensor file took ${ms.toFixed(0)} ms`);
  });
});

Deno.test("pytorch_model.bin is refused with the conversion command", async () => {
  await withTempDir(async (dir) => {
    const bin = join(dir, "pytorch_model.bin");
    await Deno.writeFile(bin, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0, 0, 0]));
    await assertFailsFast(
      () => loadSafetensors(bin),
      /pytorch_model\.bin/,
      /save_pretrained\(.*safe_serialization=True\)/,
    );
    // A directory with only pytorch_model.bin.
    await assertFailsFast(() => loadSafetensorsSharded(dir), /pytorch_model\.bin/, /convert/);
    // A torch.save zip renamed to .safetensors is recognized by its magic bytes.
    const renamed = join(dir, "model.safetensors");
    await Deno.copyFile(bin, renamed);
    await assertFailsFast(() => loadSafetensors(renamed), /PyTorch pickle/, /safe_serialization/);
    // So is a legacy (pre-zip) torch.save pickle.
    await Deno.writeFile(renamed, new Uint8Array([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]));
    await assertFailsFast(() => loadSafetensors(renamed), /PyTorch pickle/);
  });
});

Deno.test("sharded checkpoint via model.safetensors.index.json", async () => {
  await withTempDir(async (dir) => {
    await saveSafetensors(join(dir, "model-00001-of-00002.safetensors"), {
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [1], data: new Float32Array([3]) },
    });
    await saveSafetensors(join(dir, "model-00002-of-00002.safetensors"), {
      c: { shape: [1, 2], data: new Float32Array([4, 5]) },
    });
    const index = {
      metadata: { total_size: 20 },
      weight_map: {
        a: "model-00001-of-00002.safetensors",
        c: "model-00002-of-00002.safetensors",
        b: "model-00001-of-00002.safetensors",
      },
    };
    const indexPath = join(dir, "model.safetensors.index.json");
    await Deno.writeTextFile(indexPath, JSON.stringify(index));
    const info = await readSafetensorsIndex(indexPath);
    assert.deepEqual(info.shards, [
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
    ]);
    assert.deepEqual(info.metadata, { total_size: 20 });

    const all = await loadSafetensorsSharded(dir);
    assert.deepEqual([...all.keys()], ["a", "c", "b"]);
    assert.deepEqual([...all.get("c")!.data], [4, 5]);
    assert.deepEqual(all.get("c")!.shape, [1, 2]);
    const some = await loadSafetensorsSharded(indexPath, { names: ["b"] });
    assert.deepEqual([...some.keys()], ["b"]);
    await assertFailsFast(
      () => loadSafetensorsSharded(indexPath, { names: ["zz"] }),
      /index\.json/,
      /"zz"/,
    );

    // The index names a tensor its shard does not hold.
    await Deno.writeTextFile(
      indexPath,
      JSON.stringify({
        weight_map: { ...index.weight_map, d: "model-00002-of-00002.safetensors" },
      }),
    );
    await assertFailsFast(() => loadSafetensorsSharded(dir), /00002-of-00002/, /"d"/);
    // Path traversal and malformed indexes.
    for (
      const [bad, pattern] of [
        [{ weight_map: { a: "../x.safetensors" } }, /tensor "a"/],
        [{ weight_map: { a: "/etc/x.safetensors" } }, /tensor "a"/],
        [{ weight_map: { a: "x.bin" } }, /tensor "a"/],
        [{ weight_map: {} }, /empty weight_map/],
        [{ weight_map: [] }, /"weight_map" object/],
        [{ weight_map: { a: "x.safetensors" }, metadata: 3 }, /"metadata"/],
      ] as const
    ) {
      await Deno.writeTextFile(indexPath, JSON.stringify(bad));
      await assertFailsFast(() => loadSafetensorsSharded(dir), /index\.json/, pattern);
    }
    await Deno.writeTextFile(indexPath, "{");
    await assertFailsFast(() => readSafetensorsIndex(indexPath), /index\.json/, /not valid JSON/);
    await Deno.remove(indexPath);
    await assertFailsFast(() => loadSafetensorsSharded(dir), /no model\.safetensors/);
    // A single file directory.
    await Deno.rename(
      join(dir, "model-00002-of-00002.safetensors"),
      join(dir, "model.safetensors"),
    );
    assert.deepEqual([...(await loadSafetensorsSharded(dir)).keys()], ["c"]);
  });
});

Deno.test("atomic save: no temp files left, target kept on failure", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "model.safetensors");
    await saveSafetensors(path, { w: { shape: [2], data: new Float32Array([1, 2]) } });
    const before = await Deno.readFile(path);

    // Validation failures happen before anything is written.
    await assertFailsFast(
      () => saveSafetensors(path, { w: { shape: [3], data: new Float32Array([1, 2]) } }),
      /model\.safetensors: tensor "w": shape \[3\] holds 3 elements but data has 2/,
    );
    await assertFailsFast(
      () =>
        saveSafetensors(path, { w: { shape: [2], data: new Float32Array(2) } }, {
          k: 1 as unknown as string,
        }),
      /metadata value for key "k"/,
    );
    assert.deepEqual(await Deno.readFile(path), before);

    // The rename fails (the target is a non-empty directory): the temp file is removed.
    const blocked = join(dir, "blocked.safetensors");
    await Deno.mkdir(blocked);
    await Deno.writeTextFile(join(blocked, "keep"), "x");
    await assertFailsFast(
      () => saveSafetensors(blocked, { w: { shape: [1], data: new Float32Array(1) } }),
      /blocked\.safetensors: saving safetensors failed/,
    );
    // The directory is missing: nothing is created.
    await assertFailsFast(
      () => saveSafetensors(join(dir, "nope", "m.safetensors"), {}),
      /nope/,
    );
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["blocked.safetensors", "model.safetensors"]);
    assert.deepEqual(await Deno.readFile(path), before);
  });
});

Deno.test({
  name: "reads the HF-written tiny BERT fixture",
  ignore: !fixturePresent,
  fn: async () => {
    const path = new URL("model.safetensors", FIXTURE_DIR).pathname;
    const header = await readSafetensorsHeader(path);
    assert.equal(header.entries.length, 37);
    const t = await loadSafetensors(path);
    const shapes = Object.fromEntries([...t].map(([k, v]) => [k, v.shape]));
    assert.deepEqual(shapes["embeddings.word_embeddings.weight"], [256, 32]);
    assert.deepEqual(shapes["embeddings.position_embeddings.weight"], [128, 32]);
    assert.deepEqual(shapes["embeddings.token_type_embeddings.weight"], [2, 32]);
    assert.deepEqual(shapes["encoder.layer.1.intermediate.dense.weight"], [64, 32]);
    assert.deepEqual(shapes["encoder.layer.1.output.dense.weight"], [32, 64]);
    assert.deepEqual(shapes["encoder.layer.0.attention.self.query.bias"], [32]);
    for (const l of [0, 1]) {
      for (
        const n of [
          "attention.self.query",
          "attention.self.key",
          "attention.self.value",
          "attention.output.dense",
          "attention.output.LayerNorm",
          "intermediate.dense",
          "output.dense",
          "output.LayerNorm",
        ]
      ) {
        assert.ok(t.has(`encoder.layer.${l}.${n}.weight`), `${l}.${n}.weight`);
        assert.ok(t.has(`encoder.layer.${l}.${n}.bias`), `${l}.${n}.bias`);
      }
    }
    assert.ok([...t.values()].every((v) => v.dtype === "F32" && v.data instanceof Float32Array));
    assert.deepEqual([...t.get("embeddings.LayerNorm.weight")!.data], new Array(32).fill(1));
    const w = t.get("embeddings.word_embeddings.weight")!.data;
    assert.equal(w[0], Math.fround(0.00609434163197875));
    assert.equal(w[1], Math.fround(-0.020799681544303894));

    // Re-saving gives a file that loads back identically.
    const dir = await Deno.makeTempDir({ prefix: "velora-st-" });
    try {
      const out = join(dir, "model.safetensors");
      await saveSafetensors(
        out,
        new Map([...t].map(([k, v]) => [k, { shape: v.shape, data: v.data }])),
        { format: "pt" },
      );
      const again = await loadSafetensorsSharded(dir);
      for (const [k, v] of t) assert.deepEqual(again.get(k)!.data, v.data, k);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
