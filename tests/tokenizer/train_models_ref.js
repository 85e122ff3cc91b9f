// Tokenizers xfmr trains with `tokenizer train --model unigram|wordpiece`,
// read by Hugging Face's tokenizers (Rust library via its Node binding, and the
// JS port @huggingface/tokenizers):
//   trainmodel_<m>_rust / _js     same ids as xfmr on every valid UTF-8 corpus case
//   trainmodel_<m>_rust_resave    the Rust library re-saves the file; xfmr loads
//                                 it with the same tokenizer hash
// unigram_bytes is the trained Unigram with <0xNN> pieces and byte_fallback
// added (trained on less text, so unknown characters fall back to bytes).
// Training data: the first 300 kB of tinyshakespeare (when present) and the
// corpus cases, so the vocabularies see CJK, emoji, accents and digits.
// usage: node train_models_ref.js XFMR NPM_DIR CORPUS_DIR WORK_DIR SHARED_DATA_DIR
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const { pathToFileURL } = require("url");
const { parseIds, firstDiff, readManifest } = require("./common");

const [xfmr, npmDir, corpusDir, workDir, shared] = process.argv.slice(2);
const mods = path.join(path.resolve(npmDir), "node_modules");
const xf = (args) => execFileSync(xfmr, args, { maxBuffer: 1 << 30 });

async function main() {
  let rust = null;
  let jsport = null;
  try {
    rust = require(path.join(mods, "tokenizers"));
  } catch (e) {
    console.log(`SKIP trainmodel_rust: npm package tokenizers not loadable: ${e.message.split("\n")[0]}`);
  }
  try {
    const pkg = path.join(mods, "@huggingface", "tokenizers");
    const main = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8")).main;
    jsport = await import(pathToFileURL(path.join(pkg, main)).href);
  } catch (e) {
    console.log(`SKIP trainmodel_js: npm package @huggingface/tokenizers not loadable: ${e.message.split("\n")[0]}`);
  }
  if (!rust && !jsport) return;
  fs.mkdirSync(workDir, { recursive: true });
  const rows = readManifest(corpusDir)
    .filter((r) => r[2] === "1")
    .map(([name, p]) => {
      if (fs.statSync(p).size <= 200000) return [name, p];
      const head = fs.readFileSync(p).subarray(0, 100000);
      const q = path.join(workDir, `tm_${name}_head.txt`);
      fs.writeFileSync(q, head.subarray(0, head.lastIndexOf(10) + 1));
      return [`${name}_head`, q];
    });
  const texts = rows.map(([, p]) => fs.readFileSync(p, "utf8"));
  const train = path.join(workDir, "tm_train.txt");
  const ts = path.join(shared, "tinyshakespeare.txt");
  const base = fs.existsSync(ts) ? fs.readFileSync(ts).subarray(0, 300000).toString("utf8") : "";
  fs.writeFileSync(train, base + "\n" + texts.join("\n"));

  for (const [model, vocab] of [
    ["unigram", "3000"],
    ["wordpiece", "3000"],
    ["unigram_bytes", "1000"],
  ]) {
    const file = path.join(workDir, `tm_${model}.json`);
    try {
      if (model === "unigram_bytes") {
        // the trained Unigram with the 256 <0xNN> pieces and byte_fallback on,
        // on a corpus (a quarter of it) that leaves many characters unknown
        const small = path.join(workDir, "tm_train_small.txt");
        const all = fs.readFileSync(train);
        fs.writeFileSync(small, all.subarray(0, all.length >> 2));
        xf(["tokenizer", "train", "--model", "unigram", "--data", small, "--vocab-size", vocab, "--out", file]);
        const j = JSON.parse(fs.readFileSync(file, "utf8"));
        for (let b = 0; b < 256; b++)
          j.model.vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, -30]);
        j.model.byte_fallback = true;
        fs.writeFileSync(file, JSON.stringify(j));
      } else {
        xf(["tokenizer", "train", "--model", model, "--data", train, "--vocab-size", vocab, "--out", file]);
      }
    } catch (e) {
      console.log(`FAIL trainmodel_${model}_train: ${String(e.stderr || e.message).trim()}`);
      continue;
    }
    const info = JSON.parse(xf(["tokenizer", "info", "--tokenizer", file]).toString());
    const mine = rows.map(([, p]) => parseIds(xf(["tokenizer", "encode", "--tokenizer", file, "--file", p])));
    const say = (tag, bad) =>
      console.log(bad.length ? `FAIL ${tag}: differs on ${bad.slice(0, 8).join(", ")}` : `PASS ${tag}`);
    const rustIds = [];
    if (rust) {
      const r = rust.Tokenizer.fromFile(file);
      const bad = [];
      for (let i = 0; i < rows.length; i++) {
        const enc = await r.encode(texts[i], null, { addSpecialTokens: false });
        rustIds.push(Array.from(enc.getIds()));
        const d = firstDiff(mine[i], rustIds[i]);
        if (d >= 0) bad.push(`${rows[i][0]}@${d}`);
      }
      say(`trainmodel_${model}_rust`, bad);
      const saved = path.join(workDir, `tm_${model}_resaved.json`);
      r.save(saved);
      try {
        const back = JSON.parse(xf(["tokenizer", "info", "--tokenizer", saved]).toString());
        if (back.hash === info.hash) console.log(`PASS trainmodel_${model}_rust_resave`);
        else console.log(`FAIL trainmodel_${model}_rust_resave: hash ${back.hash} != ${info.hash}`);
      } catch (e) {
        console.log(`FAIL trainmodel_${model}_rust_resave: ${String(e.stderr || e.message).trim()}`);
      }
    }
    if (jsport) {
      const j = new jsport.Tokenizer(JSON.parse(fs.readFileSync(file, "utf8")), {});
      const bad = [];
      const split = [];
      for (let i = 0; i < rows.length; i++) {
        const ids = Array.from(j.encode(texts[i], { add_special_tokens: false }).ids);
        const d = firstDiff(mine[i], ids);
        // where the JS port and the Rust library disagree, xfmr follows Rust:
        // the JS port lowercases with String.toLowerCase (word-final sigma,
        // see wordpiece_ref.js), and its Unigram ignores byte_fallback (an
        // unknown character stays one unknown token instead of <0xNN> pieces)
        if (d >= 0 && rustIds.length && firstDiff(mine[i], rustIds[i]) < 0) split.push(rows[i][0]);
        else if (d >= 0) bad.push(`${rows[i][0]}@${d}`);
      }
      if (bad.length) say(`trainmodel_${model}_js`, bad);
      else
        console.log(
          `PASS trainmodel_${model}_js` +
            (split.length ? ` (where the JS port and the Rust library disagree, xfmr equals Rust: ${split.join(", ")})` : "")
        );
    }
  }
}

main().catch((e) => {
  console.log(`FAIL train_models_ref: ${e.stack.split("\n")[0]}`);
});
