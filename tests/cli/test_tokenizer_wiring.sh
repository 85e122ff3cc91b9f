#!/usr/bin/env bash
# The tokenizer travels from prepare to train to the checkpoint to generate and
# score, and training refuses a token file made with another tokenizer.
# Usage: test_tokenizer_wiring.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL tokenizer_wiring: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
SHARED="$(cd "$(dirname "$0")/../.." && pwd)/../shared/data"

cat > "$T/tiny.json" <<'JSON'
{"vocab_size": 384, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
 "num_attention_heads": 2, "max_position_embeddings": 64}
JSON
"$X" corpus --out "$T/corpus.txt" --bytes 80000 --seed 8 > /dev/null
TR=(--batch 2 --seq 32 --steps 3 --eval-every 0 --threads 1 --quiet)

# a BPE tokenizer trained on the corpus, small enough for the model's vocab
run "$X" tokenizer train --data "$T/corpus.txt" --vocab-size 384 --out "$T/bpe.json"
if [ "$rc" -eq 0 ] && [ -s "$T/bpe.json" ]; then pass wiring_bpe_train; else fail wiring_bpe_train "$(cat "$T/err")"; fi
run "$X" prepare --data "$T/corpus.txt" --out "$T/bpe.bin" --tokenizer "$T/bpe.json"
if [ "$rc" -eq 0 ]; then pass wiring_prepare_bpe; else fail wiring_prepare_bpe "$(cat "$T/err")"; fi

# the token file remembers its tokenizer: training with another one is refused
expect_fail wiring_refuses_other_tokenizer "$T/bpe.bin" "$X" train --model "$T/tiny.json" --data "$T/bpe.bin" --out "$T/m0" "${TR[@]}"
[ -e "$T/m0" ] && fail wiring_refused_no_output "created $T/m0"

run "$X" train --model "$T/tiny.json" --data "$T/bpe.bin" --tokenizer "$T/bpe.json" --out "$T/m" "${TR[@]}"
if [ "$rc" -eq 0 ]; then pass wiring_train_bpe; else fail wiring_train_bpe "$(cat "$T/err")"; fi
# the checkpoint carries the tokenizer: encode with the checkpoint equals encode with the file
a=$("$X" tokenizer encode --tokenizer "$T/m" --text "Once upon a time" 2>&1)
b=$("$X" tokenizer encode --tokenizer "$T/bpe.json" --text "Once upon a time" 2>&1)
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass wiring_checkpoint_tokenizer; else fail wiring_checkpoint_tokenizer "'$a' vs '$b'"; fi
n=$(echo "$b" | wc -w)
run "$X" score --model "$T/m" --text "Once upon a time"
if grep -q "\"tokens\":$n," "$T/out"; then pass wiring_score_text; else fail wiring_score_text "$(cat "$T/out" "$T/err") (expected $n tokens)"; fi
run "$X" generate --model "$T/m" --prompt "Once upon a time" -n 10 --seed 1
if [ "$rc" -eq 0 ] && grep -q "^Once upon a time" "$T/out"; then pass wiring_generate_text; else fail wiring_generate_text "$(cat "$T/err")"; fi
# resuming keeps the checkpoint's tokenizer and still checks the data file
run "$X" train --resume --out "$T/m" --data "$T/bpe.bin" --steps 4 --quiet
if [ "$rc" -eq 0 ]; then pass wiring_resume_bpe; else fail wiring_resume_bpe "$(cat "$T/err")"; fi
expect_fail wiring_resume_other_tokenizer "$T/m" "$X" train --resume --out "$T/m" --data "$T/corpus.txt" --tokenizer byte --steps 5 --quiet
"$X" prepare --data "$T/corpus.txt" --out "$T/byte.bin" > /dev/null
expect_fail wiring_resume_refuses_other "$T/byte.bin" "$X" train --resume --out "$T/m" --data "$T/byte.bin" --steps 5 --quiet

# Llama 2's SentencePiece model trains and travels too (needs a 32000-id vocab)
if [ -f "$SHARED/llama2-tokenizer.model" ]; then
    sed 's/"vocab_size": 384/"vocab_size": 32000/' "$T/tiny.json" > "$T/big.json"
    run "$X" train --model "$T/big.json" --data "$T/corpus.txt" --tokenizer "$SHARED/llama2-tokenizer.model" --out "$T/sp" "${TR[@]}"
    a=$("$X" tokenizer encode --tokenizer "$T/sp" --text "Hello world, once upon a time" 2>&1)
    b=$("$X" tokenizer encode --tokenizer "$SHARED/llama2-tokenizer.model" --text "Hello world, once upon a time" 2>&1)
    if [ "$rc" -eq 0 ] && [ -n "$a" ] && [ "$a" = "$b" ]; then pass wiring_sentencepiece; else fail wiring_sentencepiece "rc=$rc '$a' vs '$b' $(cat "$T/err")"; fi
    expect_fail wiring_vocab_too_small "vocab_size" "$X" train --model "$T/tiny.json" --data "$T/corpus.txt" --tokenizer "$SHARED/llama2-tokenizer.model" --out "$T/sp2" "${TR[@]}"
else
    echo "SKIP wiring_sentencepiece: ../shared/data/llama2-tokenizer.model not found"
fi
exit $failed
