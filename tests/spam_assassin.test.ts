import assert from "node:assert/strict";
import { loadSpamAssassin, type SpamAssassinMail } from "../src/data/spam_assassin.ts";
import { mailToText } from "../src/data/mail.ts";
import { stratifiedSplit } from "../src/data/split.ts";

const HTML_TAG = /<\/?(html|head|body|table|tr|td|font|div|p|br)\b[^>]*>/i;
const BASE64_RUN = /[A-Za-z0-9+/]{76,}/;

Deno.test("SpamAssassin: 6,046 mails, ham 0 / spam 1, readable text", async () => {
  const t0 = performance.now();
  const ds = await loadSpamAssassin();
  console.log(
    `loaded and cleaned ${ds.examples.length} mails in ${(performance.now() - t0) | 0} ms`,
  );
  const mails = ds.examples as SpamAssassinMail[];
  assert.equal(ds.name, "spam-assassin");
  assert.equal(mails.length, 6046);
  assert.deepEqual(ds.id2label, { 0: "ham", 1: "spam" });
  assert.deepEqual(ds.label2id, { ham: 0, spam: 1 });
  assert.equal(mails.filter((m) => m.label === 0).length, 4150);
  assert.equal(mails.filter((m) => m.label === 1).length, 1896);
  const groups: Record<string, number> = {};
  for (const m of mails) groups[m.group] = (groups[m.group] ?? 0) + 1;
  assert.deepEqual(groups, {
    "easy-ham-1": 2500,
    "easy-ham-2": 1400,
    "hard-ham-1": 250,
    "spam-1": 500,
    "spam-2": 1396,
  });
  for (const m of mails) {
    assert.equal(m.label, m.group.startsWith("spam") ? 1 : 0);
    assert.ok(m.text.length > 0 && m.text.length <= 10_000, m.file);
    assert.ok(!/\s\s|\n|\uFFFD/.test(m.text), `${m.file}: whitespace collapsed, no U+FFFD`);
  }
  // HTML tags survive only in a few ham mails that quote HTML in their plain text.
  const tagged = mails.filter((m) => HTML_TAG.test(m.text));
  assert.ok(tagged.length <= 6, `${tagged.length} mails with HTML tags`);
  assert.ok(tagged.every((m) => m.label === 0), "no spam mail keeps HTML tags");

  // A plain ham mail: subject first, then the body.
  const ham = mails.find((m) => m.file.startsWith("easy-ham-1/00001."))!;
  assert.match(ham.text, /^Re: New Sequences Window Date: Wed, 21 Aug 2002/);
  // An unencoded 8-bit Latin-1 subject.
  const pound = mails.find((m) => m.file.startsWith("easy-ham-1/02026."))!;
  assert.match(pound.text, /^Gambler wins £7,000 - and spends it all/);
  // A base64-encoded, EUC-KR HTML spam: decoded to Korean text, no tags, no base64.
  const korean = mails.find((m) => m.file.startsWith("spam-2/00588."))!;
  assert.match(korean.text, /^\(광---고\) 이멜리스트 500만개 /, "8-bit EUC-KR subject");
  assert.match(korean.text, /이멜리스트 500만개 4만원에 팝니다\./);
  assert.ok(!HTML_TAG.test(korean.text) && !BASE64_RUN.test(korean.text));
  // A multipart/alternative spam with a boundary the parser cannot follow: MIME scaffolding gone.
  const broken = mails.find((m) => m.file.startsWith("spam-1/00467."))!;
  assert.ok(!/Content-Type|Multipart Boundary/i.test(broken.text), broken.text.slice(0, 200));
  assert.ok(!HTML_TAG.test(broken.text));

  const again = await loadSpamAssassin();
  assert.deepEqual(again.examples, ds.examples, "second call is served from memory");
});

Deno.test("SpamAssassin: stratified split is deterministic and keeps both labels", async () => {
  const ds = await loadSpamAssassin();
  const a = stratifiedSplit(ds.examples, { evalFraction: 0.1, seed: 42 });
  const b = stratifiedSplit(ds.examples, { evalFraction: 0.1, seed: 42 });
  assert.deepEqual(
    a.eval.map((e) => (e as SpamAssassinMail).file),
    b.eval.map((e) => (e as SpamAssassinMail).file),
  );
  assert.equal(a.eval.length, 605);
  assert.equal(a.eval.filter((e) => e.label === 1).length, 190);
  assert.equal(a.train.length + a.eval.length, 6046);
});

Deno.test("SpamAssassin: group option", async () => {
  const ds = await loadSpamAssassin({ groups: ["hard-ham-1"] });
  assert.equal(ds.examples.length, 250);
  assert.ok(ds.examples.every((e) => e.label === 0));
  await assert.rejects(loadSpamAssassin({ groups: ["spam-3"] }), /option groups: unknown group/);
});

Deno.test("mailToText decodes quoted-printable, base64, charsets and HTML", async () => {
  const qp = [
    "Subject: =?iso-8859-1?Q?Caf=E9?= news",
    "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="b1"',
    "",
    "--b1",
    'Content-Type: text/html; charset="iso-8859-1"',
    "Content-Transfer-Encoding: quoted-printable",
    "",
    '<html><body><p>Gr=FC=DFe aus <b>M=FCnchen</b></p><img src=3D"x.gif">',
    '<a href=3D"http://example.com">Click here</a></body></html>',
    "--b1--",
    "",
  ].join("\r\n");
  assert.equal(await mailToText(qp), "Café news Grüße aus München Click here");
  const b64 = [
    "Subject: plain",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    btoa(String.fromCharCode(...new TextEncoder().encode("héllo   wörld\n\nbye"))),
    "",
  ].join("\n");
  assert.equal(await mailToText(b64), "plain héllo wörld bye");
  assert.equal(await mailToText(b64, { maxChars: 12 }), "plain héllo");
});
