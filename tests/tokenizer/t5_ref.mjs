// T5-style Unigram tokenizer.json files (Precompiled normalizer), made by
// t5_convert.py from SentencePiece models that python3-sentencepiece trained,
// through xfmr (tests/tools/tok_driver), Hugging Face's tokenizers (the Rust
// library via its Node binding: the definition of tokenizer.json),
// transformers.js, and python3-sentencepiece's ids on the .model:
//   t5_<rule>_rust    xfmr ids == Rust ids on every case (no specials added)
//   t5_<rule>_post    the same with the post-processor (</s> appended)
//   t5_<rule>_decode  xfmr decode == Rust decode (specials kept)
//   t5_<rule>_spm     xfmr ids == sentencepiece's on every case where the Rust
//                     library equals sentencepiece; the cases where the Rust
//                     library's Precompiled (shortest rule per grapheme
//                     cluster) parts from sentencepiece's normalizer (longest
//                     rule per position) are named in a SKIP line
//   t5_<rule>_js      xfmr ids == transformers.js where transformers.js equals
//                     Rust; transformers.js approximates Precompiled with
//                     NFKC and a few replacements (no case folding), so the
//                     cases where it parts from Rust are named in a SKIP line
// usage: node t5_ref.mjs TOK_DRIVER NPM_DIR WORK_DIR   (after t5_convert.py)
import fs from "fs";
import path from "path";
import { execFileSync } from "child_process";
import { createRequire } from "module";
import { pathToFileURL } from "url";

const require = createRequire(import.meta.url);
const { firstDiff } = require("./common.js");
const [driver, npmDir, workDir] = process.argv.slice(2);
const mods = path.join(path.resolve(npmDir), "node_modules");
const miss = process.env.CI ? "FAIL" : "SKIP";

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
  if (fails.length === 0) console.log(`PASS ${name} (${total} cases)`);
  else console.log(`FAIL ${name}: ${fails.length} of ${total} cases differ; ${fails.slice(0, 3).join("; ")}`);
}

const show = (a, d) => `[${a.slice(d, d + 4)}]`;

async function main() {
  let rust, tf;
  try {
    rust = require(path.join(mods, "tokenizers"));
  } catch (e) {
    console.log(`${miss} t5_rust: npm package tokenizers not loadable: ${e.message.split("\n")[0]}`);
    return;
  }
  try {
    tf = await import(pathToFileURL(path.join(mods, "@huggingface", "transformers", "dist", "transformers.node.mjs")).href);
    tf.env.allowRemoteModels = false;
    tf.env.localModelPath = workDir + path.sep;
  } catch (e) {
    console.log(`${miss} t5_js: @huggingface/transformers not loadable: ${e.message.split("\n")[0]}`);
  }
  const cdir = path.join(workDir, "t5_cases");
  for (const rule of ["nmt_nfkc", "nfkc_cf"]) {
    const dir = path.join(workDir, `t5_${rule}`);
    const file = path.join(dir, "tokenizer.json");
    if (!fs.existsSync(file)) {
      console.log(`FAIL t5_${rule}_rust: ${file} was not made (t5_convert.py)`);
      continue;
    }
    const spmIds = JSON.parse(fs.readFileSync(path.join(dir, "spm_ids.json"), "utf8"));
    const names = Object.keys(spmIds);
    const files = names.map((n) => path.join(cdir, n + ".txt"));
    let mine, post;
    try {
      mine = driverRun(file, ["--no-special"], files);
      post = driverRun(file, ["--no-special", "--add-special"], files);
    } catch (e) {
      console.log(`FAIL t5_${rule}_load: ${String(e.stderr || e.message).trim().split("\n")[0]}`);
      continue;
    }
    const r = rust.Tokenizer.fromFile(file);
    const jt = tf ? await tf.AutoTokenizer.from_pretrained(`t5_${rule}`) : null;
    const f = { rust: [], post: [], dec: [], spm: [], js: [] };
    const spmParts = [], jsParts = [];
    for (let i = 0; i < names.length; i++) {
      const text = fs.readFileSync(files[i], "utf8");
      const got = mine[i].ids;
      const want = Array.from((await r.encode(text, null, { addSpecialTokens: false })).getIds());
      let d = firstDiff(got, want);
      if (d >= 0) f.rust.push(`${names[i]} at ${d}: xfmr ${show(got, d)} rust ${show(want, d)}`);
      const wantPost = Array.from((await r.encode(text, null, { addSpecialTokens: true })).getIds());
      d = firstDiff(post[i].ids, wantPost);
      if (d >= 0) f.post.push(`${names[i]} at ${d}: xfmr ${show(post[i].ids, d)} rust ${show(wantPost, d)}`);
      const rdec = await r.decode(want, false);
      if (rdec !== mine[i].dec) f.dec.push(`${names[i]}: ${JSON.stringify(mine[i].dec.slice(0, 40))} vs ${JSON.stringify(rdec.slice(0, 40))}`);
      const sp = spmIds[names[i]];
      if (firstDiff(want, sp) >= 0) spmParts.push(names[i]);
      else if ((d = firstDiff(got, sp)) >= 0) f.spm.push(`${names[i]} at ${d}: xfmr ${show(got, d)} sentencepiece ${show(sp, d)}`);
      if (jt) {
        const js = Array.from(jt.encode(text, { add_special_tokens: false }));
        if (firstDiff(js, want) >= 0) jsParts.push(names[i]);
        else if ((d = firstDiff(got, js)) >= 0) f.js.push(`${names[i]} at ${d}: xfmr ${show(got, d)} transformers.js ${show(js, d)}`);
      }
    }
    const n = names.length;
    report(`t5_${rule}_rust`, f.rust, n);
    report(`t5_${rule}_post`, f.post, n);
    report(`t5_${rule}_decode`, f.dec, n);
    report(`t5_${rule}_spm`, f.spm, n - spmParts.length);
    if (spmParts.length) console.log(`SKIP t5_${rule}_spm_parts: the Rust library parts from sentencepiece on ${spmParts.length} cases (xfmr follows Rust there): ${spmParts.join(" ")}`);
    if (jt) {
      report(`t5_${rule}_js`, f.js, n - jsParts.length);
      if (jsParts.length) console.log(`SKIP t5_${rule}_js_parts: transformers.js parts from the Rust library on ${jsParts.length} cases (xfmr follows Rust there): ${jsParts.join(" ")}`);
    }
  }
}

main().catch((e) => {
  console.log(`FAIL t5_ref: ${e.stack.split("\n").slice(0, 2).join(" ")}`);
});
