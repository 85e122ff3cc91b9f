#!/usr/bin/env bash
# xfmr train for every family and objective, MoE logging, resume bit for bit
# with the objective pipelines, supervised pairs, and the combinations that
# must be refused before anything is written. Usage: test_train_families.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL train_families: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$X" corpus --out "$T/corpus.txt" --bytes 60000 --seed 5 > /dev/null
COMMON=(--batch 2 --seq 32 --eval-every 2 --eval-batches 1 --threads 2 --quiet --lr 3e-3 --warmup 1)

# loss_of LOG N: the training loss of step N
loss_of() { grep "\"step\":$2,\"loss\"" "$1" | sed 's/.*"loss":\([0-9.]*\).*/\1/'; }

# --- every family with each objective that makes sense --------------------
for combo in bert-tiny:mlm prefix-tiny:prefix prefix-tiny:clm prefix-tiny:span prefix-tiny:ul2 \
             t5-tiny:span t5-tiny:ul2 t5-tiny:prefix bart-tiny:span llama-tiny:prefix \
             mixtral-tiny:clm switch-tiny:clm deepseek-tiny:clm; do
    m=${combo%%:*} o=${combo##*:}
    name="train_${m}_${o}"
    run "$X" train --model "$m" --objective "$o" --data "$T/corpus.txt" --out "$T/$m-$o" --steps 4 "${COMMON[@]}"
    if [ "$rc" -ne 0 ]; then fail "$name" "$(head -c 300 "$T/err")"; continue; fi
    l1=$(loss_of "$T/$m-$o/log.jsonl" 1) l4=$(loss_of "$T/$m-$o/log.jsonl" 4)
    v=$(grep -c '"val_loss"' "$T/$m-$o/log.jsonl")
    if [ -n "$l1" ] && [ -n "$l4" ] && [ "$v" -ge 2 ] && awk -v a="$l1" -v b="$l4" 'BEGIN { exit !(a > 0 && b > 0 && a < 20 && b < 20) }'; then
        pass "$name"; else fail "$name" "losses '$l1' '$l4', $v evaluations"; fi
done

# --- MoE: every step line carries per-layer routing statistics -------------
line=$(grep '"step":4,"loss"' "$T/mixtral-tiny-clm/log.jsonl")
if echo "$line" | /usr/bin/env python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["aux_loss"] > 0, d
moe = d["moe"]
assert len(moe) == 4, len(moe)               # every layer of mixtral-tiny is MoE
for l in moe:
    assert len(l["tokens"]) == 8
    assert sum(l["tokens"]) == 2 * 32 * 2, l   # B*T tokens, top-2, dropless
    assert l["dropped"] == 0 and l["entropy"] > 0 and l["aux"] > 0
'; then pass train_moe_log; else fail train_moe_log "$line"; fi
line=$(grep '"step":4,"loss"' "$T/switch-tiny-clm/log.jsonl")
if echo "$line" | /usr/bin/env python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
moe = d["moe"]
assert [l["layer"] for l in moe] == [0, 2], moe   # moe_layer_freq 2
for l in moe:
    assert sum(l["tokens"]) <= 64 and 0 <= l["dropped"] < 1 and l["z"] > 0
'; then pass train_switch_log; else fail train_switch_log "$line"; fi
line=$(grep '"step":4,"loss"' "$T/deepseek-tiny-clm/log.jsonl")
if echo "$line" | /usr/bin/env python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert [l["layer"] for l in d["moe"]] == [1, 2, 3]   # first_k_dense_layers 1
'; then pass train_deepseek_log; else fail train_deepseek_log "$line"; fi

# --- the balancing bias moves (and only through its update rule) ----------
if /usr/bin/env python3 - "$T/deepseek-tiny-clm/model.safetensors" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n])
t = hdr["model.layers.1.block_sparse_moe.gate.e_score_correction_bias"]
a, b = t["data_offsets"]
vals = struct.unpack("<%df" % ((b - a) // 4), raw[8 + n + a:8 + n + b])
# 4 steps of +-0.001 (or 0): every entry is a multiple of 0.001 within 0.004, not all 0
assert all(abs(v) <= 0.0040001 and abs(v * 1000 - round(v * 1000)) < 1e-3 for v in vals), vals
assert any(v != 0 for v in vals), vals
EOF
then pass train_moe_bias_update; else fail train_moe_bias_update "bias not updated by +-speed steps"; fi

# --- a collapsing expert is reported: 2 experts, top-1, no balancing loss and an odd
#     number of tokens per step (one expert always has more than half); without the
#     aux loss the router collapses onto one expert within 300 steps (deterministic) ---
cat > "$T/moe2.json" <<'JSON'
{"vocab_size": 384, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
 "num_attention_heads": 2, "max_position_embeddings": 32, "num_experts": 2, "num_experts_per_tok": 1,
 "router_type": "softmax_topk", "router_aux_loss_coef": 0}
JSON
run "$X" train --model "$T/moe2.json" --data "$T/corpus.txt" --out "$T/moe2" --steps 300 --batch 1 --seq 15 \
    --eval-every 0 --threads 1 --quiet
if [ "$rc" -eq 0 ] && grep -q "^xfmr: warning: expert [01] of decoder layer 0 has had .* of the tokens for 100 steps in a row" "$T/err"; then
    pass train_moe_collapse_warning; else fail train_moe_collapse_warning "rc=$rc $(head -c 300 "$T/err")"; fi

# --- resume bit for bit through the objective pipelines --------------------
for m in t5-tiny:span prefix-tiny:ul2 bert-tiny:mlm; do
    mm=${m%%:*} o=${m##*:}
    "$X" train --model "$mm" --objective "$o" --data "$T/corpus.txt" --out "$T/r-$mm" --steps 6 --decay-steps 6 "${COMMON[@]}" 2> /dev/null
    "$X" train --model "$mm" --objective "$o" --data "$T/corpus.txt" --out "$T/h-$mm" --steps 3 --decay-steps 6 "${COMMON[@]}" 2> /dev/null
    "$X" train --resume --out "$T/h-$mm" --data "$T/corpus.txt" --steps 6 --quiet 2> "$T/err"
    a=$(grep '"loss"' "$T/r-$mm/log.jsonl" | sed 's/,"tokens_per_s".*//')
    b=$(grep '"loss"' "$T/h-$mm/log.jsonl" | sed 's/,"tokens_per_s".*//')
    if [ -n "$a" ] && [ "$a" = "$b" ]; then pass "train_resume_${mm}_$o"; else fail "train_resume_${mm}_$o" "$(head -c 200 "$T/err")"; fi
done

# --- supervised pairs -------------------------------------------------------
python3 - "$T/pairs.tsv" <<'EOF'
import sys
words = "the cat sat on a mat and then ran far away from home".split()
with open(sys.argv[1], "w") as f:
    for i in range(200):
        src = " ".join(words[(i + k) % len(words)] for k in range(5))
        f.write(src + "\t" + " ".join(reversed(src.split())) + "\n")
EOF
for m in t5-tiny prefix-tiny llama-tiny; do
    run "$X" train --model "$m" --data "$T/pairs.tsv" --out "$T/p-$m" --steps 3 "${COMMON[@]}"
    if [ "$rc" -eq 0 ] && grep -q '"val_loss"' "$T/p-$m/log.jsonl"; then pass "train_pairs_$m"; else fail "train_pairs_$m" "$(head -c 300 "$T/err")"; fi
done
printf 'no tab here\n' > "$T/bad.tsv"
expect_fail train_pairs_bad_line bad.tsv "$X" train --model t5-tiny --data "$T/bad.tsv" --out "$T/pbad" --steps 1 --quiet

# --- combinations that make no sense: one line, nothing written -------------
for combo in llama-tiny:mlm bert-tiny:clm bert-tiny:span t5-tiny:mlm t5-tiny:clm llama-tiny:span; do
    m=${combo%%:*} o=${combo##*:}
    expect_fail "train_refuses_${m}_$o" "$o" "$X" train --model "$m" --objective "$o" --data "$T/corpus.txt" --out "$T/no-$m-$o" --steps 1 --quiet
    if [ -e "$T/no-$m-$o" ]; then fail "train_refuses_${m}_${o}_writes" "created the output directory"; fi
done
expect_fail train_bad_objective_name nonsense "$X" train --model t5-tiny --objective nonsense --data "$T/corpus.txt" --out "$T/nx" --steps 1 --quiet
expect_fail train_target_seq_too_small target-seq "$X" train --model t5-tiny --objective span --data "$T/corpus.txt" --out "$T/ts" --steps 1 --seq 64 --target-seq 4 --batch 2 --quiet

exit $failed
