// Runs a GGUF file in llama.cpp (node-llama-cpp's prebuilt CPU binaries) and
// writes what xfmr is compared against (tests/cli/test_gguf_llamacpp.sh):
//   OUT.lp   float32 [T, V]: log-probabilities of the next token after each of
//            the T ids (node-llama-cpp gives probabilities, not logits)
//   OUT.ids  the N greedy tokens after the ids, space-separated
// Usage: node llama_cpp_eval.mjs MODEL.gguf "ids" N OUT V   (V: the vocabulary size)
// f32 KV cache and no flash attention, so an f32 file is evaluated in f32.
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [model, idstr, nstr, out, vstr] = process.argv.slice(2);
const ids = idstr.trim().split(/\s+/).map(Number);
const N = Number(nstr);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const m = await llama.loadModel({ modelPath: model, gpuLayers: 0, defaultContextFlashAttention: false });
const ctx = await m.createContext({
    contextSize: ids.length + N + 8, batchSize: ids.length + N + 8, flashAttention: false,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", threads: 1, seed: 0,
});
const seq = ctx.getSequence();
const nv = Number(vstr);
const probs = { generateNext: { probabilities: true } };
// every input position's next-token distribution
const res = await seq.controlledEvaluate(ids.map((t) => [t, probs]));
const lp = new Float32Array(ids.length * nv).fill(-Infinity);
res.forEach((r, i) => {
    for (const [tok, p] of r.next.probabilities) lp[i * nv + tok] = Math.log(p);
});
fs.writeFileSync(out + ".lp", Buffer.from(lp.buffer));
// greedy continuation: the argmax of each next distribution, fed back
const greedy = [];
let last = res[res.length - 1].next.probabilities.entries().next().value[0];
for (let k = 0; k < N; k++) {
    greedy.push(last);
    if (k + 1 === N) break;
    const r = await seq.controlledEvaluate([[last, probs]]);
    last = r[0].next.probabilities.entries().next().value[0];
}
fs.writeFileSync(out + ".ids", greedy.join(" ") + "\n");
console.log(JSON.stringify({ vocab: nv, tokens: ids.length, greedy: greedy.length }));
await ctx.dispose();
await m.dispose();
await llama.dispose();
