#!/usr/bin/env bash
# Data of any size through the CLI (docs/data.md §Shards, §Streaming):
# prepare into shards + index, the same ids as one file and as small pieces;
# train on a shard directory, a glob and text alike; --val-data; hostile index
# and shards; and training + resume under an address-space limit smaller than
# the data. Usage: test_stream.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then
    echo "SKIP stream: no $X"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

"$X" corpus --out "$T/c.txt" --bytes 400000 --seed 2 > /dev/null
"$X" corpus --out "$T/v.txt" --bytes 40000 --seed 3 > /dev/null
n=$(size "$T/c.txt")

# ---- prepare: shards + index
run "$X" prepare --data "$T/c.txt" --out "$T/sh/" --shard-tokens 30000
k=$(( (n + 29999) / 30000 ))
if [ "$rc" -ne 0 ]; then
    fail stream_prepare_shards "exit $rc: $(cat "$T/err")"
elif ! grep -qE "^\{\"tokens\":$n,\"bytes\":$n,\"vocab_size\":[0-9]+,\"tokenizer\":\"byte\",\"out\":\"$T/sh/\",\"shards\":$k\}$" "$T/out"; then
    fail stream_prepare_shards "summary $(cat "$T/out") (want $k shards)"
elif [ "$(ls "$T/sh"/shard-*.bin | wc -l)" -ne "$k" ] || [ ! -f "$T/sh/index.json" ]; then
    fail stream_prepare_shards "$(ls "$T/sh")"
else
    pass stream_prepare_shards
fi

# the shards' ids, concatenated, are the one file's ids; small pieces change nothing
"$X" prepare --data "$T/c.txt" --out "$T/one.bin" > /dev/null
"$X" prepare --data "$T/c.txt" --out "$T/small.bin" --piece-kb 16 > /dev/null
for f in "$T/sh"/shard-*.bin; do tail -c +65 "$f"; done > "$T/sh.ids"
tail -c +65 "$T/one.bin" > "$T/one.ids"
if cmp -s "$T/sh.ids" "$T/one.ids" && cmp -s "$T/one.bin" "$T/small.bin"; then
    pass stream_same_ids
else
    fail stream_same_ids "shard ids or 16 KiB pieces differ from one file"
fi

# ---- train: directory, glob, one file and text give the same run
same_run() { # name data...
    local name=$1
    shift
    local ref=""
    for d in "$@"; do
        rm -rf "$T/run"
        run "$X" train --model gpt2-tiny --data "$d" --out "$T/run" --steps 3 --seq 32 --batch 2 --eval-every 3 --eval-batches 2 --quiet --threads 1
        if [ "$rc" -ne 0 ]; then
            fail "$name" "$d: exit $rc: $(cat "$T/err")"
            return
        fi
        local got
        got=$(grep -o '"val_loss":[0-9.]*' "$T/run/log.jsonl" | tail -1)
        if [ -z "$got" ] || { [ -n "$ref" ] && [ "$got" != "$ref" ]; }; then
            fail "$name" "$d: $got, first was $ref"
            return
        fi
        ref=$got
    done
    pass "$name"
}
same_run stream_train_dir_glob_file_text "$T/sh" "$T/sh/shard-*.bin" "$T/one.bin" "$T/c.txt"

# ---- --val-data
rm -rf "$T/run"
run "$X" train --model gpt2-tiny --data "$T/sh" --val-data "$T/v.txt" --out "$T/run" --steps 3 --seq 32 --batch 2 --eval-every 3 --eval-batches 2 --quiet --threads 1
a=$(grep -o '"val_loss":[0-9.]*' "$T/run/log.jsonl" 2>/dev/null | tail -1)
"$X" prepare --data "$T/v.txt" --out "$T/v.bin" > /dev/null
rm -rf "$T/run"
run "$X" train --model gpt2-tiny --data "$T/sh" --val-data "$T/v.bin" --out "$T/run" --steps 3 --seq 32 --batch 2 --eval-every 3 --eval-batches 2 --quiet --threads 1
b=$(grep -o '"val_loss":[0-9.]*' "$T/run/log.jsonl" 2>/dev/null | tail -1)
rm -rf "$T/run"
run "$X" train --model gpt2-tiny --data "$T/sh" --out "$T/run" --steps 3 --seq 32 --batch 2 --eval-every 3 --eval-batches 2 --quiet --threads 1
c=$(grep -o '"val_loss":[0-9.]*' "$T/run/log.jsonl" 2>/dev/null | tail -1)
if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ]; then
    pass stream_val_data
else
    fail stream_val_data "text $a, token file $b, tail of the data $c"
fi
rm -rf "$T/run"
expect_fail stream_val_data_missing "$T/nope.txt" "$X" train --model gpt2-tiny --data "$T/sh" --val-data "$T/nope.txt" --out "$T/run" --steps 1 --quiet

# ---- hostile index and shards: one line naming the file, nothing crashes
cp -r "$T/sh" "$T/bad1"
head -c 40 "$T/sh/index.json" > "$T/bad1/index.json"
expect_fail stream_index_truncated "$T/bad1/index.json" "$X" train --model gpt2-tiny --data "$T/bad1" --out "$T/run" --steps 1 --quiet
cp -r "$T/sh" "$T/bad2"
sed 's/"tokens":30000/"tokens":30001/' "$T/sh/index.json" > "$T/bad2/index.json"
expect_fail stream_index_wrong_count "$T/bad2/index.json" "$X" train --model gpt2-tiny --data "$T/bad2" --out "$T/run" --steps 1 --quiet
cp -r "$T/sh" "$T/bad3"
sed 's/"uint16"/"uint32"/' "$T/sh/index.json" > "$T/bad3/index.json"
expect_fail stream_index_wrong_dtype "$T/bad3/index.json" "$X" train --model gpt2-tiny --data "$T/bad3" --out "$T/run" --steps 1 --quiet
cp -r "$T/sh" "$T/bad4"
truncate -s -2 "$T/bad4/shard-000001.bin"
expect_fail stream_shard_truncated "$T/bad4/shard-000001.bin" "$X" train --model gpt2-tiny --data "$T/bad4" --out "$T/run" --steps 1 --quiet
mkdir -p "$T/noindex"
cp "$T/one.bin" "$T/noindex/"
expect_fail stream_dir_without_index "$T/noindex" "$X" train --model gpt2-tiny --data "$T/noindex" --out "$T/run" --steps 1 --quiet
expect_fail stream_glob_no_match "$T/zz*.bin" "$X" prepare --data "$T/zz*.bin" --out "$T/x.bin"

# ---- more data than memory: train and resume under ulimit -v
# The process may map at most LIMIT KiB of address space (the binary, OpenBLAS's
# buffers and the model need about 400 MB); the data is ~1.6x that. Its 720
# shard entries are hard links to 12 prepared shards of 1 MB ids (disk stays
# small): the reader opens and validates every entry as a file of its own, so
# loading the data into memory would need every byte of it.
LIMIT=480000
if ldd "$X" 2>/dev/null | grep -q asan; then
    echo "SKIP stream_memory_limit: sanitizer builds reserve terabytes of address space"
    exit $failed
fi
"$X" corpus --out "$T/big.txt" --bytes 6300000 --seed 5 > /dev/null
( ulimit -v $LIMIT; "$X" prepare --data "$T/big.txt" --out "$T/base/" --shard-tokens 524288 > /dev/null 2> "$T/err" ) || fail stream_memory_prepare "$(cat "$T/err")"
mkdir -p "$T/huge"
python3 - "$T/base" "$T/huge" << 'PY'
import json, os, sys
base, huge = sys.argv[1], sys.argv[2]
ix = json.load(open(os.path.join(base, "index.json")))
full = [s for s in ix["shards"] if s["tokens"] == 524288]
shards = []
for rep in range(60):
    for s in full:
        name = "r%02d-%s" % (rep, s["file"])
        os.link(os.path.join(base, s["file"]), os.path.join(huge, name))
        shards.append({"file": name, "tokens": s["tokens"]})
ix["shards"] = shards
ix["tokens"] = sum(s["tokens"] for s in shards)
json.dump(ix, open(os.path.join(huge, "index.json"), "w"))
PY
tokens=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['tokens'])" "$T/huge/index.json")
if [ $((tokens * 2 / 1024)) -le $((LIMIT * 3 / 2)) ]; then
    fail stream_memory_limit "only $tokens tokens for a limit of $LIMIT KiB"
    exit 1
fi
lim_train() { ( ulimit -v $LIMIT; "$X" train --model gpt2-tiny --data "$T/huge" --out "$@" --seq 32 --batch 2 --eval-every 4 --eval-batches 2 --quiet --threads 1 ); }
run lim_train "$T/straight" --steps 8
r1=$rc
run lim_train "$T/resumed" --steps 4
r2=$rc
run lim_train "$T/resumed" --steps 8 --resume
r3=$rc
s=$(grep -o '"step":8,"val_loss":[0-9.]*' "$T/straight/log.jsonl" 2>/dev/null)
r=$(grep -o '"step":8,"val_loss":[0-9.]*' "$T/resumed/log.jsonl" 2>/dev/null)
if [ "$r1$r2$r3" != 000 ]; then
    fail stream_memory_limit "exits $r1 $r2 $r3: $(head -c 300 "$T/err")"
elif [ -z "$s" ] || [ "$s" != "$r" ]; then
    fail stream_memory_limit "straight '$s', resumed '$r'"
else
    pass stream_memory_limit
fi
exit $failed
