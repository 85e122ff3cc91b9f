// Every pipeline component of tokenizer.json, one variant file each, through
// xfmr and through Hugging Face's tokenizers (the Rust library, npm
// "tokenizers", the definition) and transformers.js (npm
// @huggingface/transformers):
//   comp_<variant>_rust     ids equal the Rust library's on every input
//   comp_<variant>_decode   xfmr's decode of them equals the Rust library's
//   comp_<variant>_js       ids equal transformers.js's
// A variant takes a real file (Llama 2's char-level BPE with byte fallback, or
// a byte-level BPE xfmr trains on the corpus) and swaps one part of the
// pipeline (normalizer, pre_tokenizer, decoder, post_processor, model option).
// usage: node hf_components.mjs XFMR TOK_DRIVER NPM_DIR CORPUS_DIR WORK_DIR
import fs from "fs";
import path from "path";
import { execFileSync } from "child_process";
import { createRequire } from "module";
import { pathToFileURL } from "url";

const require = createRequire(import.meta.url);
const { firstDiff, readManifest } = require("./common.js");
const [xfmr, driver, npmDir, corpusDir, workDir] = process.argv.slice(2);
const mods = path.join(path.resolve(npmDir), "node_modules");
const miss = process.env.CI ? "FAIL" : "SKIP";

const S = (s) => ({ String: s });
const R = (r) => ({ Regex: r });
const nz = (n) => (j) => { j.normalizer = n; };
const pt = (p) => (j) => { j.normalizer = null; j.pre_tokenizer = p; };
const dc = (d) => (j) => { j.decoder = d; };
const pp = (p) => (j) => { j.post_processor = p; };
const behaviors = ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"];

// [name, base ("char" | "byte"), change]
const VARIANTS = [
  ["nfc", "char", nz({ type: "NFC" })],
  ["nfd", "char", nz({ type: "NFD" })],
  ["nfkc", "char", nz({ type: "NFKC" })],
  ["nfkd", "char", nz({ type: "NFKD" })],
  ["lowercase", "char", nz({ type: "Lowercase" })],
  ["strip_accents", "char", nz({ type: "Sequence", normalizers: [{ type: "NFD" }, { type: "StripAccents" }] })],
  ["strip", "char", nz({ type: "Strip", strip_left: true, strip_right: true })],
  ["strip_left", "char", nz({ type: "Strip", strip_left: true, strip_right: false })],
  ["replace_string", "char", nz({ type: "Replace", pattern: S("  "), content: "\u2581" })],
  ["replace_regex", "char", nz({ type: "Replace", pattern: R("\\s+"), content: "\u2581" })],
  ["prepend", "char", nz({ type: "Prepend", prepend: "\u2581" })],
  ["bert_normalizer", "char", nz({ type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true })],
  ["bert_normalizer_cased", "char", nz({ type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: false })],
  ["bert_normalizer_accents", "char", nz({ type: "BertNormalizer", clean_text: false, handle_chinese_chars: false, strip_accents: true, lowercase: false })],
  ["nz_sequence", "char", nz({ type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Lowercase" }, { type: "Replace", pattern: S(" "), content: "\u2581" }, { type: "Prepend", prepend: "\u2581" }] })],
  ...behaviors.flatMap((b) => [
    [`split_regex_${b}`, "char", pt({ type: "Split", pattern: R("\\s+|[0-9]"), behavior: b, invert: false })],
    [`split_regex_${b}_invert`, "char", pt({ type: "Split", pattern: R("\\p{L}+"), behavior: b, invert: true })],
    [`split_string_${b}`, "char", pt({ type: "Split", pattern: S(" "), behavior: b, invert: false })],
  ]),
  ["digits", "char", pt({ type: "Digits", individual_digits: false })],
  ["digits_individual", "char", pt({ type: "Digits", individual_digits: true })],
  ["metaspace_always", "char", pt({ type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true })],
  ["metaspace_first", "char", pt({ type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: true })],
  ["metaspace_never", "char", pt({ type: "Metaspace", replacement: "\u2581", prepend_scheme: "never", split: true })],
  ["metaspace_nosplit", "char", pt({ type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: false })],
  ["whitespace", "char", pt({ type: "Whitespace" })],
  ["whitespace_split", "char", pt({ type: "WhitespaceSplit" })],
  ["bert_pretokenizer", "char", pt({ type: "BertPreTokenizer" })],
  ["punctuation", "char", pt({ type: "Punctuation", behavior: "Isolated" })],
  ["punctuation_contiguous", "char", pt({ type: "Punctuation", behavior: "Contiguous" })],
  ["pt_sequence", "char", pt({ type: "Sequence", pretokenizers: [{ type: "WhitespaceSplit" }, { type: "Digits", individual_digits: true }, { type: "Punctuation", behavior: "Isolated" }] })],
  ["bytelevel_prefix", "byte", pt({ type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true })],
  ["bytelevel_noregex", "byte", pt({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false })],
  ["bytelevel_after_split", "byte", pt({ type: "Sequence", pretokenizers: [{ type: "Split", pattern: R("\\p{N}{1,3}"), behavior: "Isolated", invert: false }, { type: "Digits", individual_digits: false }, { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: false }] })],
  ["nfkc_bytelevel", "byte", (j) => { j.normalizer = { type: "NFKC" }; }],
  ["decoder_metaspace", "char", (j) => { j.normalizer = null; j.pre_tokenizer = { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true }; j.decoder = { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true }] }; }],
  ["decoder_strip", "char", dc({ type: "Sequence", decoders: [{ type: "Replace", pattern: S("\u2581"), content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 2, stop: 0 }] })],
  ["decoder_wordpiece", "char", dc({ type: "WordPiece", prefix: "\u2581", cleanup: true })],
  ["decoder_bpe", "char", dc({ type: "BPEDecoder", suffix: "\u2581" })],
  ["decoder_ctc", "char", dc({ type: "CTC", pad_token: "<unk>", word_delimiter_token: "\u2581", cleanup: true })],
  ["decoder_replace_regex", "char", dc({ type: "Sequence", decoders: [{ type: "Replace", pattern: R("\u2581+"), content: "_" }, { type: "ByteFallback" }] })],
  ["post_template", "char", pp({ type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }], pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }], special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] }, "</s>": { id: "</s>", ids: [2], tokens: ["</s>"] } } })],
  ["post_bert", "char", pp({ type: "BertProcessing", sep: ["</s>", 2], cls: ["<s>", 1] })],
  ["post_roberta", "char", pp({ type: "RobertaProcessing", sep: ["</s>", 2], cls: ["<s>", 1], trim_offsets: true, add_prefix_space: false })],
  ["post_sequence", "byte", pp({ type: "Sequence", processors: [{ type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true }, { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<|endoftext|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [{ Sequence: { id: "A", type_id: 0 } }], special_tokens: { "<|endoftext|>": { id: "<|endoftext|>", ids: [256], tokens: ["<|endoftext|>"] } } }] })],
  ["added_flags", "char", (j) => {
    j.added_tokens.push(
      { id: 0, content: "<unk>", single_word: false, lstrip: true, rstrip: true, normalized: false, special: true });
    j.added_tokens = j.added_tokens.filter((a, i) => i > 0);
    // an added token spelled like a vocabulary piece takes its id; others get new ids
    let next = Object.keys(j.model.vocab).length;
    const add = (content, o) => {
      const id = content in j.model.vocab ? j.model.vocab[content] : next++;
      j.added_tokens.push(Object.assign({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false }, o));
    };
    add("the", { single_word: true, normalized: true });
    add("ing", { lstrip: true });
    add("tion", { rstrip: true, special: true });
    add("<new>", { lstrip: true, rstrip: true, special: true });
  }],
  ["unk_no_fallback", "char", (j) => { j.model.byte_fallback = false; j.model.fuse_unk = false; }],
  ["unk_fused", "char", (j) => { j.model.byte_fallback = false; j.model.fuse_unk = true; }],
  ["ignore_merges", "byte", (j) => { j.model.ignore_merges = true; }],
];

// inputs: short corpus cases (valid UTF-8) and component-specific strings
function inputs() {
  const extra = {
    specials: "<s>hello</s> <unk> the theory bathe  the ing singing  tion nation tion\u00a0x <s> </s> a <new> b<new>c  <new>\n",
    accents: "Caf\u00e9 CAF\u00c9 e\u0301 \u00c5ngstr\u00f6m \u1e9b\u0323 \ufb01 \u2460 \u00bd \u2126 \u212b \uff21\uff42",
    bert: "Hello, WORLD! \u4e2d\u6587\u5b57 x\u0000y\u0007z\ufffd \t\ttabs\r\n na\u00efve 3.14 don't",
    digits: "a1b22c333 4444 \u0661\u0662 \u00b2 x99y",
    spaces: "  lead  and   trail  \u2581already\u2581  ",
    sigma: "\u039f\u0394\u039f\u03a3 \u0130stanbul \u1e9e \u0049\u0307",
  };
  const rows = readManifest(corpusDir).filter((r) => r[2] === "1" && fs.statSync(r[1]).size <= 4000);
  const dir = path.join(workDir, "comp_inputs");
  fs.mkdirSync(dir, { recursive: true });
  const out = rows.map(([name, file]) => ({ name, file, text: fs.readFileSync(file, "utf8") }));
  for (const [name, text] of Object.entries(extra)) {
    const file = path.join(dir, name + ".txt");
    fs.writeFileSync(file, text);
    out.push({ name, file, text });
  }
  return out;
}

function driverRun(spec, flags, files) {
  const out = execFileSync(driver, [spec, ...flags, ...files], { maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "pipe"] }).toString();
  const lines = out.split("\n");
  const res = [];
  for (let i = 0; i + 2 < lines.length && lines[i].startsWith("ids:"); i += 3) {
    const t = lines[i].slice(4).trim();
    res.push({ ids: t ? t.split(" ").map(Number) : [], dec: Buffer.from(lines[i + 1].slice(5), "hex").toString("utf8") });
  }
  return res;
}

function report(name, fails, total) {
  if (fails.length === 0) console.log(`PASS ${name} (${total} inputs)`);
  else console.log(`FAIL ${name}: ${fails.length} of ${total} inputs differ; ${fails.slice(0, 2).join("; ")}`);
}

async function main() {
  let rust, tf;
  try {
    rust = require(path.join(mods, "tokenizers"));
    const pkg = path.join(mods, "@huggingface", "transformers");
    tf = await import(pathToFileURL(path.join(pkg, "dist", "transformers.node.mjs")).href);
    tf.env.allowRemoteModels = false;
  } catch (e) {
    console.log(`${miss} hf_components: reference packages not loadable: ${e.message.split("\n")[0]}`);
    return;
  }
  const charBase = path.join(mods, "@lenml", "tokenizer-llama2", "models", "tokenizer.json");
  if (!fs.existsSync(charBase)) {
    console.log(`${miss} hf_components: ${charBase} not installed`);
    return;
  }
  const dir = path.join(workDir, "components");
  fs.mkdirSync(dir, { recursive: true });
  const ins = inputs();
  // byte-level base: trained by xfmr on the corpus (small, so the Rust library loads it fast)
  const byteBase = path.join(dir, "byte_base.json");
  const data = readManifest(corpusDir).filter((r) => r[2] === "1").map((r) => r[1]);
  execFileSync(xfmr, ["tokenizer", "train", "--data", ...data, "--vocab-size", "1200", "--out", byteBase]);
  const bases = { char: JSON.parse(fs.readFileSync(charBase, "utf8")), byte: JSON.parse(fs.readFileSync(byteBase, "utf8")) };
  const only = process.env.XF_COMP_ONLY ? new RegExp(process.env.XF_COMP_ONLY) : null; // for debugging
  for (const [name, base, change] of VARIANTS) {
    if (only && !only.test(name)) continue;
    const j = structuredClone(bases[base]);
    change(j);
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(j));
    const post = name.startsWith("post_");
    let mine;
    try {
      mine = driverRun(file, post ? ["--add-special"] : [], ins.map((x) => x.file));
    } catch (e) {
      console.log(`FAIL comp_${name}_rust: xfmr: ${String(e.stderr || e.message).trim().split("\n")[0]}`);
      continue;
    }
    const r = rust.Tokenizer.fromFile(file);
    const jt = new tf.PreTrainedTokenizer(j, { clean_up_tokenization_spaces: false });
    const rf = [], df = [], jf = [], jdev = [];
    for (let i = 0; i < ins.length; i++) {
      const x = ins[i];
      const enc = await r.encode(x.text, null, { addSpecialTokens: post });
      const want = Array.from(enc.getIds());
      const d = firstDiff(mine[i].ids, want);
      if (d >= 0) rf.push(`${x.name} at ${d}: xfmr [${mine[i].ids.slice(d, d + 4)}] rust [${want.slice(d, d + 4)}]`);
      const rdec = await r.decode(want, false);
      if (d < 0 && rdec !== mine[i].dec) df.push(`${x.name}: ${JSON.stringify(mine[i].dec.slice(0, 30))} vs ${JSON.stringify(rdec.slice(0, 30))}`);
      const jw = Array.from(jt.encode(x.text, { add_special_tokens: post }));
      const dj = firstDiff(mine[i].ids, jw);
      // where transformers.js departs from the Rust library (the definition), xfmr follows Rust
      if (dj >= 0 && firstDiff(jw, want) >= 0) jdev.push(x.name);
      else if (dj >= 0) jf.push(`${x.name} at ${dj}: xfmr [${mine[i].ids.slice(dj, dj + 4)}] transformers.js [${jw.slice(dj, dj + 4)}]`);
    }
    report(`comp_${name}_rust`, rf, ins.length);
    report(`comp_${name}_decode`, df, ins.length);
    if (jf.length || !jdev.length) report(`comp_${name}_js`, jf, ins.length);
    else
      console.log(`SKIP comp_${name}_js: transformers.js departs from the Rust library on ${jdev.length} of ${ins.length} inputs (${jdev.slice(0, 4).join(", ")}); xfmr agrees with Rust there`);
  }
}

main().catch((e) => {
  console.log(`FAIL hf_components: ${e.stack.split("\n").slice(0, 2).join(" ")}`);
});
