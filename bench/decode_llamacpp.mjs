// Decode speed of llama.cpp (node-llama-cpp 3.21.1's prebuilt CPU binaries) on
// a GGUF file, for bench/decode.sh: greedy decoding of N tokens after the
// prompt ids, on T threads, timed after the prompt is evaluated (as xfmr's
// tok/s counts generated tokens). Prints one JSON line:
//   {"impl":"llama.cpp","threads":T,"tokens":N,"tok_s":...}
// Usage: node decode_llamacpp.mjs MODEL.gguf "ids" N T
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [model, idstr, nstr, tstr] = process.argv.slice(2);
const ids = idstr.trim().split(/\s+/).map(Number);
const N = Number(nstr), T = Number(tstr);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0 });
const ctx = await m.createContext({ contextSize: ids.length + N + 8, threads: T, seed: 0 });
const seq = ctx.getSequence();
const greedy = { generateNext: { token: true } };
let r = await seq.controlledEvaluate(ids.map((t, i) => (i + 1 === ids.length ? [t, greedy] : t)));
let last = r[r.length - 1].next.token;
const t0 = performance.now();
for (let k = 0; k < N; k++) {
    r = await seq.controlledEvaluate([[last, greedy]]);
    last = r[0].next.token;
}
const sec = (performance.now() - t0) / 1e3;
console.log(JSON.stringify({ impl: "llama.cpp", threads: T, tokens: N, tok_s: N / sec }));
await ctx.dispose();
await m.dispose();
