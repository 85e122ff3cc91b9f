// js-tiktoken GPT-2 encoding speed on one file, single thread (node is single-
// threaded). Prints one JSON line {"bytes","tokens","runs","seconds","mb_per_s"}
// with the best of RUNS timed encodes after one warm-up encode.
// usage: node bench_tokenizer.js NPM_DIR FILE [RUNS]
"use strict";
const fs = require("fs");
const path = require("path");

const [npmDir, file, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 5);
const { getEncoding } = require(path.join(path.resolve(npmDir), "node_modules", "js-tiktoken"));
const enc = getEncoding("gpt2");
const buf = fs.readFileSync(file);
const text = buf.toString("utf8");
let tokens = enc.encode(text).length; // warm-up (JIT, caches)
let best = Infinity;
for (let r = 0; r < runs; r++) {
  const t0 = process.hrtime.bigint();
  tokens = enc.encode(text).length;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (dt < best) best = dt;
}
console.log(
  JSON.stringify({ tokenizer: "js-tiktoken gpt2", bytes: buf.length, tokens, runs, seconds: best, mb_per_s: buf.length / 1e6 / best })
);
