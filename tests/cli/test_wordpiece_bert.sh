#!/usr/bin/env bash
# A bert-style model trains and fills with a real-format BERT vocabulary: a
# vocab.txt generated from the corpus ([PAD] [unused0..9] [UNK] [CLS] [SEP]
# [MASK], characters, "##" continuations, frequent words), as a tokenizer spec
# both as FILE.txt and as wordpiece:FILE.
# Usage: test_wordpiece_bert.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL wordpiece_bert: no $X"; exit 1; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$X" corpus --out "$T/c.txt" --bytes 40000 --seed 5 > /dev/null
{
    echo "[PAD]"
    for i in 0 1 2 3 4 5 6 7 8 9; do echo "[unused$i]"; done
    printf '%s\n' "[UNK]" "[CLS]" "[SEP]" "[MASK]"
    for c in '!' '"' "'" '(' ')' ',' '-' '.' ':' ';' '?'; do echo "$c"; done
    for c in 0 1 2 3 4 5 6 7 8 9 a b c d e f g h i j k l m n o p q r s t u v w x y z; do echo "$c"; done
    for c in 0 1 2 3 4 5 6 7 8 9 a b c d e f g h i j k l m n o p q r s t u v w x y z; do echo "##$c"; done
    tr -cs 'A-Za-z' '\n' < "$T/c.txt" | tr 'A-Z' 'a-z' | awk 'length($0) > 1' | sort | uniq -c | sort -k1,1nr -k2 |
        head -300 | awk '{print $2}'
    printf '%s\n' "##s" "##ed" "##ing" "##ly"
} | awk '!seen[$0]++' > "$T/vocab.txt"
n=$(wc -l < "$T/vocab.txt" | tr -d ' ')

run "$X" tokenizer info --tokenizer "$T/vocab.txt"
mask_line=$(grep -n '^\[MASK\]$' "$T/vocab.txt" | cut -d: -f1)
cls_line=$(grep -n '^\[CLS\]$' "$T/vocab.txt" | cut -d: -f1)
if [ "$rc" -eq 0 ] && grep -q "\"name\":\"wordpiece($n)\"" "$T/out" && grep -q "\"mask\":$((mask_line - 1))," "$T/out" &&
    grep -q "\"bos\":$((cls_line - 1))," "$T/out"; then pass wordpiece_vocab_txt_info
else fail wordpiece_vocab_txt_info "$(cat "$T/out" "$T/err")"; fi
a=$("$X" tokenizer encode --tokenizer "$T/vocab.txt" --text "The Cat, sat." 2>&1)
b=$("$X" tokenizer encode --tokenizer "wordpiece:$T/vocab.txt" --text "the cat , sat ." 2>&1)
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass wordpiece_spec_forms_and_basic_tokenizer; else fail wordpiece_spec_forms_and_basic_tokenizer "'$a' vs '$b'"; fi

run "$X" train --model bert-tiny --tokenizer "$T/vocab.txt" --data "$T/c.txt" --out "$T/bert" --steps 4 --batch 2 --seq 32 --threads 2 --quiet
pad=$(( (n + 63) / 64 * 64 ))
if [ "$rc" -eq 0 ] && grep -q "\"vocab_size\": $pad," "$T/bert/config.json"; then pass wordpiece_bert_trains
else fail wordpiece_bert_trains "rc=$rc $(head -c 300 "$T/err")"; fi
# the checkpoint carries the WordPiece tokenizer (as tokenizer.json): same hash
h1=$("$X" tokenizer info --tokenizer "$T/vocab.txt" | sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
h2=$("$X" tokenizer info --tokenizer "$T/bert" | sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
if [ -n "$h1" ] && [ "$h1" = "$h2" ] && [ -s "$T/bert/tokenizer.json" ]; then pass wordpiece_checkpoint_tokenizer
else fail wordpiece_checkpoint_tokenizer "$h1 vs $h2"; fi

run "$X" fill --model "$T/bert" --text "the [MASK] sat on the mat." --top 5
# every prediction is a vocabulary token (never a padding row past the vocabulary)
preds=$(grep -c '^  ' "$T/out")
if [ "$rc" -eq 0 ] && [ "$preds" = 5 ]; then pass wordpiece_bert_fill
else fail wordpiece_bert_fill "rc=$rc $(cat "$T/out" "$T/err")"; fi
exit $failed
