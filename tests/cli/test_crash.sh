#!/usr/bin/env bash
# Crash consistency of xfmr train (docs/formats.md §6): a run and its resumes
# are killed with SIGKILL 20 times, at random moments, half of them aimed inside
# checkpoint writes (XFMR_TEST_SAVE_DELAY_MS slows each stage of a save so a kill
# lands between the .next files and the renames). After every kill the
# directory must resume, every step the broken run logs must have the loss of
# the unbroken run at that step, and at the end the weights and the optimizer
# state must equal the unbroken run's byte for byte; log.jsonl must stay
# readable (a torn last line is tolerated). Then: a pair from different steps
# is refused whole, a disk that fills up and a read-only directory give one
# clear line and leave the checkpoint intact. Usage: test_crash.sh BUILD_DIR
set -u
X="${1:-build}/xfmr"
if [ ! -x "$X" ]; then echo "FAIL crash_cli: no $X"; exit 1; fi
X=$(cd "$(dirname "$X")" && pwd)/xfmr
T=$(mktemp -d)
MNT=""
cleanup() {
    [ -n "$MNT" ] && umount "$MNT" 2> /dev/null
    rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

cat > "$T/tiny.json" <<'JSON'
{"vocab_size": 384, "hidden_size": 96, "intermediate_size": 256, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64,
 "hidden_act": "silu", "gated_ffn": true, "norm_type": "rmsnorm", "position_type": "rope",
 "use_bias": false, "tie_word_embeddings": false}
JSON
"$X" corpus --out "$T/corpus.txt" --bytes 60000 --seed 3 > /dev/null
STEPS=150
C=(--data "$T/corpus.txt" --batch 4 --seq 64 --eval-batches 2 --threads 1 --quiet --lr 3e-3 --warmup 2
   --decay-steps $STEPS --save-every 3)

"$X" train --model "$T/tiny.json" --out "$T/ref" "${C[@]}" --steps $STEPS --eval-every 10 2> "$T/ref.err" || fail crash_reference_run "$(cat "$T/ref.err")"

# last step logged in DIR's log.jsonl (0 if none)
logged() { grep -o '"step":[0-9]*,"loss"' "$1/log.jsonl" 2> /dev/null | tail -1 | grep -o '[0-9]*' || echo 0; }
# wait (up to 60 s) until CONDITION-COMMAND succeeds or the process PID ends
wait_for() {
    local pid=$1; shift
    for _ in $(seq 1 6000); do
        "$@" && return 0
        kill -0 "$pid" 2> /dev/null || return 1
        sleep 0.005
    done
    return 1
}
past() { [ "$(logged "$T/k")" -ge "$1" ]; }
saving() { compgen -G "$T/k/*.next*" > /dev/null; }

kills=0 aimed=0 torn=0 attempts=0 resumes=0
problems=""
while [ $kills -lt 20 ] && [ $attempts -lt 60 ]; do
    attempts=$((attempts + 1))
    if [ -f "$T/k/train_state.safetensors" ]; then
        mode=(--resume --out "$T/k"); resumes=$((resumes + 1))
    else
        rm -rf "$T/k"; mode=(--model "$T/tiny.json" --out "$T/k")
    fi
    [ "$(logged "$T/k")" -ge $STEPS ] && break
    if [ $((attempts % 2)) = 0 ]; then
        # aimed: a save takes 3 x 150 ms; kill at a random point inside one
        XFMR_TEST_SAVE_DELAY_MS=150 "$X" train "${mode[@]}" "${C[@]}" --steps $STEPS --eval-every 10 2>> "$T/k.err" &
        pid=$!
        wait_for $pid saving && sleep "0.$((RANDOM % 45))"
    else
        # anywhere: a random number of steps past the last one logged, then a random delay
        target=$(( $(logged "$T/k") + RANDOM % 5 + 1 ))
        "$X" train "${mode[@]}" "${C[@]}" --steps $STEPS --eval-every 10 2>> "$T/k.err" &
        pid=$!
        wait_for $pid past $target && sleep "0.00$((RANDOM % 10))"
    fi
    if kill -9 $pid 2> /dev/null; then
        kills=$((kills + 1))
        [ $((attempts % 2)) = 0 ] && saving && aimed=$((aimed + 1))
    fi
    wait $pid 2> /dev/null
    # log.jsonl: every line but a torn last one is JSON
    if [ -f "$T/k/log.jsonl" ]; then
        r=$(python3 - "$T/k/log.jsonl" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")
torn = 1 if lines and lines[-1] else 0
bad = 0
for l in lines[:-1]:
    try:
        json.loads(l)
    except ValueError:
        bad += 1
print(bad, torn)
PY
)
        [ "${r%% *}" != 0 ] && problems="$problems; unreadable log lines after kill $kills"
        [ "${r##* }" = 1 ] && torn=$((torn + 1))
    fi
done
# finish
"$X" train --resume --out "$T/k" "${C[@]}" --steps $STEPS --eval-every 10 2>> "$T/k.err"
rc=$?
[ $rc -ne 0 ] && problems="$problems; final resume exited $rc: $(tail -2 "$T/k.err")"
if [ $kills -ge 20 ]; then pass crash_kill_20_times; else fail crash_kill_20_times "only $kills kills landed in $attempts runs"; fi
echo "# $kills kills ($aimed inside a checkpoint write), $resumes resumes, $torn torn log lines seen"
grep -v '^xfmr: warning' "$T/k.err" | grep -v '^$' | head -3 | sed 's/^/# stderr: /'
# every loss the broken run logged is the unbroken run's loss at that step
cmp_logs=$(python3 - "$T/ref/log.jsonl" "$T/k/log.jsonl" <<'PY'
import json, sys
ref = {}
for l in open(sys.argv[1]):
    d = json.loads(l)
    if "loss" in d:
        ref[d["step"]] = d["loss"]
n = bad = 0
first = ""
for l in open(sys.argv[2]):
    try:
        d = json.loads(l)
    except ValueError:
        continue
    if "loss" in d:
        n += 1
        if ref.get(d["step"]) != d["loss"]:
            bad += 1
            first = first or "step %d: %s vs %s" % (d["step"], d["loss"], ref.get(d["step"]))
print(n, bad, first)
PY
)
read -r nlog nbad firstbad <<< "$cmp_logs"
if [ "$nbad" = 0 ] && [ "$nlog" -ge $STEPS ]; then pass crash_every_step_matches; else fail crash_every_step_matches "$nbad of $nlog logged steps differ ($firstbad)"; fi
if cmp -s "$T/ref/model.safetensors" "$T/k/model.safetensors" && cmp -s "$T/ref/train_state.safetensors" "$T/k/train_state.safetensors"; then
    pass crash_final_bit_exact
else
    fail crash_final_bit_exact "weights or optimizer state differ from the unbroken run"
fi
if [ -z "$problems" ]; then pass crash_resumes_and_logs; else fail crash_resumes_and_logs "${problems#; }"; fi
leftover=$(ls "$T/k" | grep -E '\.next|\.tmp\.' | head -3)
if [ -z "$leftover" ]; then pass crash_no_leftovers; else fail crash_no_leftovers "$leftover"; fi

# --- a torn last log line is dropped on resume and plot tolerates it ----------
"$X" train --model "$T/tiny.json" --out "$T/t" "${C[@]}" --steps 3 2> /dev/null
printf '{"step":4,"loss":1.2' >> "$T/t/log.jsonl"
run "$X" plot --out "$T/t.svg" "$T/t/log.jsonl"
if [ "$rc" = 0 ] && grep -q "torn last line" "$T/err"; then pass crash_plot_tolerates_torn_line; else fail crash_plot_tolerates_torn_line "rc=$rc $(cat "$T/err")"; fi
run "$X" train --resume --out "$T/t" "${C[@]}" --steps 6
if [ "$rc" = 0 ] && grep -q "dropped a torn last line" "$T/err" && python3 -c "
import json,sys
[json.loads(l) for l in open(sys.argv[1])]" "$T/t/log.jsonl"; then pass crash_resume_drops_torn_line; else fail crash_resume_drops_torn_line "rc=$rc $(cat "$T/err")"; fi

# --- a pair from different steps is refused as a whole -------------------------
"$X" train --model "$T/tiny.json" --out "$T/m" "${C[@]}" --steps 3 2> /dev/null
cp "$T/m/model.safetensors" "$T/m3.safetensors"
"$X" train --resume --out "$T/m" "${C[@]}" --steps 6 2> /dev/null
cp "$T/m3.safetensors" "$T/m/model.safetensors"
cp -r "$T/m" "$T/m.before"
expect_fail crash_mixed_pair_refused "inconsistent checkpoint" "$X" train --resume --out "$T/m" "${C[@]}" --steps 9
if diff -r "$T/m" "$T/m.before" > /dev/null; then pass crash_mixed_pair_untouched; else fail crash_mixed_pair_untouched "the directory changed"; fi

# --- disk full: a small tmpfs (root only; SKIP where mount is not permitted) ----
mkdir -p "$T/mnt"
# one checkpoint of the tiny model is ~0.2 MB (weights + 2 moments); room for about 1.5 of them
ck=$(( $(stat -c %s "$T/ref/model.safetensors") + $(stat -c %s "$T/ref/train_state.safetensors") ))
if mount -t tmpfs -o size=$(( ck * 3 / 2 / 1024 + 24 ))k tmpfs "$T/mnt" 2> /dev/null; then
    MNT="$T/mnt"
    run "$X" train --model "$T/tiny.json" --out "$T/mnt/d" "${C[@]}" --steps 30 --eval-every 0
    lines=$(wc -l < "$T/err" | tr -d ' ')
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$lines" = 1 ] && grep -q "No space left" "$T/err"; then
        pass crash_disk_full_message
    else
        fail crash_disk_full_message "rc=$rc: $(head -c 300 "$T/err")"
    fi
    # what is left is one complete checkpoint: it resumes (on a disk with room) and matches the unbroken run
    cp -r "$T/mnt/d" "$T/full"
    umount "$T/mnt"; MNT=""
    s=$(python3 -c "
import json,struct,sys
h=open(sys.argv[1],'rb').read(); n=struct.unpack('<Q',h[:8])[0]
print(json.loads(h[8:8+n])['__metadata__']['step'])" "$T/full/model.safetensors" 2> /dev/null)
    run "$X" train --resume --out "$T/full" "${C[@]}" --steps $STEPS --eval-every 10
    if [ "$rc" = 0 ] && [ -n "$s" ] && cmp -s "$T/ref/model.safetensors" "$T/full/model.safetensors"; then
        pass crash_disk_full_checkpoint_intact
    else
        fail crash_disk_full_checkpoint_intact "checkpoint step '$s', resume rc=$rc $(head -c 200 "$T/err")"
    fi
else
    echo "SKIP crash_disk_full: mount -t tmpfs is not permitted here"
fi

# --- read-only output directory ---------------------------------------------------
"$X" train --model "$T/tiny.json" --out "$T/ro" "${C[@]}" --steps 3 2> /dev/null
cp -r "$T/ro" "$T/ro.before"
ro_ok=0
if [ "$(id -u)" != 0 ]; then
    chmod -R a-w "$T/ro" && ro_ok=1
elif mount --bind "$T/ro" "$T/ro" 2> /dev/null; then
    if mount -o remount,bind,ro "$T/ro" 2> /dev/null; then ro_ok=1; MNT="$T/ro"; else umount "$T/ro"; fi
fi
if [ $ro_ok = 1 ]; then
    expect_fail crash_readonly_dir "$T/ro" "$X" train --resume --out "$T/ro" "${C[@]}" --steps 6
    if diff -r "$T/ro" "$T/ro.before" > /dev/null; then pass crash_readonly_untouched; else fail crash_readonly_untouched "the directory changed"; fi
    if [ -n "$MNT" ]; then umount "$T/ro"; MNT=""; else chmod -R u+w "$T/ro"; fi
else
    echo "SKIP crash_readonly_dir: cannot make a read-only directory here (root without mount)"
fi
exit 0
