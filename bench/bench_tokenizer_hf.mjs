// transformers.js encoding speed and load time for one tokenizer.json, single
// thread (node runs JavaScript on one thread). Prints one JSON line
// {"bytes","tokens","runs","seconds","mb_per_s","load_seconds"}: the best of
// RUNS timed encodes (special tokens matched, none added) after one warm-up.
// usage: node bench_tokenizer_hf.mjs NPM_DIR FAMILY_DIR FAMILY FILE [RUNS]
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const [npmDir, famDir, fam, file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 3);
const pkg = path.join(path.resolve(npmDir), "node_modules", "@huggingface", "transformers");
const tf = await import(pathToFileURL(path.join(pkg, "dist", "transformers.node.mjs")).href);
tf.env.allowRemoteModels = false;
tf.env.localModelPath = path.resolve(famDir) + path.sep;
const t0 = process.hrtime.bigint();
const tok = await tf.AutoTokenizer.from_pretrained(fam);
const load = Number(process.hrtime.bigint() - t0) / 1e9;
const buf = fs.readFileSync(file);
const text = buf.toString("utf8");
let tokens = tok.encode(text, { add_special_tokens: false }).length;
let best = Infinity;
for (let r = 0; r < runs; r++) {
  const t1 = process.hrtime.bigint();
  tokens = tok.encode(text, { add_special_tokens: false }).length;
  const dt = Number(process.hrtime.bigint() - t1) / 1e9;
  if (dt < best) best = dt;
}
console.log(JSON.stringify({ bytes: buf.length, tokens, runs, seconds: best, mb_per_s: buf.length / 1e6 / best, load_seconds: load }));
