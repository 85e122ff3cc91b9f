// WordPiece (BERT) against Hugging Face's tokenizers (the Rust library through
// its Node binding, npm "tokenizers", and the JS port "@huggingface/tokenizers").
//
// A BERT-style vocab.txt is generated from the corpus (specials, [unusedK],
// every character seen alone and as a "##" continuation, frequent words and
// word endings), once uncased and once cased. Then for each:
//   wp_rust_encode_<v>      xfmr --tokenizer vocab.txt == WordPiece.fromFile +
//                           bertNormalizer + bertPreTokenizer (Rust), ids on
//                           every valid UTF-8 corpus case
//   wp_rust_json_<v>        the Rust library saves that tokenizer as
//                           tokenizer.json; xfmr loads it: same ids again
//   wp_js_encode_<v>        xfmr converts vocab.txt to tokenizer.json; the JS
//                           port loads it and gives xfmr's ids
//   wp_specials_<v>         [CLS] [SEP] [PAD] [MASK] [UNK] map to BOS, EOS,
//                           PAD, MASK, UNK in `xfmr tokenizer info`
// usage: node wordpiece_ref.js XFMR NPM_DIR CORPUS_DIR WORK_DIR
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const { pathToFileURL } = require("url");
const { parseIds, firstDiff, readManifest } = require("./common");

const [xfmr, npmDir, corpusDir, workDir] = process.argv.slice(2);
const mods = path.join(path.resolve(npmDir), "node_modules");

function xf(args) {
  return execFileSync(xfmr, args, { maxBuffer: 1 << 30 });
}

// A vocab.txt from the texts: lower selects the uncased variant.
function makeVocab(texts, lower) {
  const chars = new Set();
  const words = new Map();
  for (let t of texts) {
    if (lower) t = t.toLowerCase().normalize("NFD").replace(/\p{Mn}/gu, "");
    for (const w of t.split(/[\s\p{P}\p{S}\p{C}\p{Z}]+/u)) {
      if (!w) continue;
      for (const c of w) chars.add(c);
      words.set(w, (words.get(w) || 0) + 1);
    }
  }
  const top = [...words.entries()]
    .filter(([w]) => [...w].length <= 12)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 1500)
    .map(([w]) => w);
  const ends = new Set();
  for (const w of top.slice(0, 600)) {
    const cs = [...w];
    for (let k = 2; k <= 4 && k < cs.length; k++) ends.add("##" + cs.slice(cs.length - k).join(""));
  }
  const punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".split("");
  const sorted = (s) => [...s].sort();
  const out = ["[PAD]"];
  for (let i = 0; i < 10; i++) out.push(`[unused${i}]`);
  out.push("[UNK]", "[CLS]", "[SEP]", "[MASK]");
  const seen = new Set(out);
  const add = (x) => {
    if (!seen.has(x)) {
      seen.add(x);
      out.push(x);
    }
  };
  for (const c of punct) add(c);
  for (const c of sorted(chars)) add(c);
  for (const c of sorted(chars)) add("##" + c);
  for (const w of top) add(w);
  for (const e of sorted(ends)) add(e);
  return out.join("\n") + "\n";
}

async function main() {
  let rust = null;
  let jsport = null;
  try {
    rust = require(path.join(mods, "tokenizers"));
  } catch (e) {
    console.log(`SKIP wp_rust: npm package tokenizers not loadable: ${e.message.split("\n")[0]}`);
  }
  try {
    const pkg = path.join(mods, "@huggingface", "tokenizers");
    const main = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8")).main;
    jsport = await import(pathToFileURL(path.join(pkg, main)).href);
  } catch (e) {
    console.log(`SKIP wp_js: npm package @huggingface/tokenizers not loadable: ${e.message.split("\n")[0]}`);
  }
  if (!rust && !jsport) return;
  fs.mkdirSync(workDir, { recursive: true });

  const rows = readManifest(corpusDir)
    .filter((r) => r[2] === "1")
    .map(([name, p]) => {
      if (fs.statSync(p).size <= 200000) return [name, p];
      const head = fs.readFileSync(p).subarray(0, 100000);
      const q = path.join(workDir, `wp_${name}_head.txt`);
      fs.writeFileSync(q, head.subarray(0, head.lastIndexOf(10) + 1));
      return [`${name}_head`, q];
    });
  const texts = rows.map(([, p]) => fs.readFileSync(p, "utf8"));

  for (const [vname, lower] of [
    ["uncased", true],
    ["cased", false],
  ]) {
    const vocab = path.join(workDir, `wp_${vname}_vocab.txt`);
    fs.writeFileSync(vocab, makeVocab(texts, lower));
    const info = JSON.parse(xf(["tokenizer", "info", "--tokenizer", vocab]).toString());
    const tokOf = (id) => fs.readFileSync(vocab, "utf8").split("\n")[id];
    const sp = [tokOf(info.bos), tokOf(info.eos), tokOf(info.pad), tokOf(info.mask), tokOf(info.unk)];
    const want = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"];
    console.log(
      sp.join() === want.join() ? `PASS wp_specials_${vname}` : `FAIL wp_specials_${vname}: got ${sp.join(" ")}`
    );
    const mine = rows.map(([, p]) => parseIds(xf(["tokenizer", "encode", "--tokenizer", vocab, "--file", p])));
    const say = (tag, bad) =>
      console.log(bad.length ? `FAIL ${tag}: differs on ${bad.slice(0, 8).join(", ")}` : `PASS ${tag}`);

    const rustIds = [];
    if (rust) {
      const model = await rust.WordPiece.fromFile(vocab, { unkToken: "[UNK]" });
      const r = new rust.Tokenizer(model);
      r.setNormalizer(
        rust.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: lower, lowercase: lower })
      );
      r.setPreTokenizer(rust.bertPreTokenizer());
      const bad = [];
      for (let i = 0; i < rows.length; i++) {
        const enc = await r.encode(texts[i], null, { addSpecialTokens: false });
        rustIds.push(Array.from(enc.getIds()));
        const d = firstDiff(mine[i], rustIds[i]);
        if (d >= 0) bad.push(`${rows[i][0]}@${d}`);
      }
      say(`wp_rust_encode_${vname}`, bad);
      const saved = path.join(workDir, `wp_${vname}_rust.json`);
      r.save(saved);
      const bad2 = [];
      for (let i = 0; i < rows.length; i++) {
        const got = parseIds(xf(["tokenizer", "encode", "--tokenizer", saved, "--file", rows[i][1]]));
        if (firstDiff(got, mine[i]) >= 0) bad2.push(rows[i][0]);
      }
      say(`wp_rust_json_${vname}`, bad2);
    }
    if (jsport) {
      const conv = path.join(workDir, `wp_${vname}_xfmr.json`);
      xf(["tokenizer", "convert", "--tokenizer", vocab, "--out", conv]);
      const j = new jsport.Tokenizer(JSON.parse(fs.readFileSync(conv, "utf8")), {});
      const bad = [];
      const split = [];
      for (let i = 0; i < rows.length; i++) {
        const ids = Array.from(j.encode(texts[i], { add_special_tokens: false }).ids);
        const d = firstDiff(mine[i], ids);
        // Where the two references disagree (the JS port lowercases with
        // String.toLowerCase, which turns a word-final capital sigma into
        // final sigma; the Rust library maps each character alone), xfmr
        // follows the Rust library, which defines BertNormalizer.
        if (d >= 0 && rustIds.length && firstDiff(mine[i], rustIds[i]) < 0) split.push(rows[i][0]);
        else if (d >= 0) bad.push(`${rows[i][0]}@${d}`);
      }
      if (bad.length) say(`wp_js_encode_${vname}`, bad);
      else
        console.log(
          `PASS wp_js_encode_${vname}` +
            (split.length ? ` (where the JS port and the Rust library disagree, xfmr equals Rust: ${split.join(", ")})` : "")
        );
    }
  }
}

main().catch((e) => {
  console.log(`FAIL wordpiece_ref: ${e.stack.split("\n")[0]}`);
});
