// Helpers shared by gpt2_ref.js and hf_interop.js: the id lists that
// `xfmr tokenizer encode` prints, comparing two id lists, and the corpus
// manifest (see make_corpus.py).
"use strict";
const fs = require("fs");
const path = require("path");

// "1 2 3\n" (string or Buffer) -> [1, 2, 3]; blank -> []
function parseIds(s) {
  const t = s.toString().trim();
  return t ? t.split(/\s+/).map(Number) : [];
}

// Index of the first difference between id lists a and b, -1 if they are equal.
function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// Prints "PASS name" if got equals want, else "FAIL name: ..." showing where they part.
function compareIds(name, got, want) {
  const d = firstDiff(got, want);
  if (d < 0) console.log(`PASS ${name}`);
  else
    console.log(
      `FAIL ${name}: ${got.length} ids vs ${want.length}; first difference at ${d}: ` +
        `xfmr [${got.slice(d, d + 5)}] ref [${want.slice(d, d + 5)}]`
    );
}

// Rows [name, file, utf8] of CORPUS_DIR/manifest.tsv (utf8 is "1" for valid UTF-8).
function readManifest(corpusDir) {
  return fs
    .readFileSync(path.join(corpusDir, "manifest.tsv"), "utf8")
    .split("\n")
    .filter((l) => l)
    .map((l) => l.split("\t"));
}

module.exports = { parseIds, firstDiff, compareIds, readManifest };
