#!/usr/bin/env bash
# examples/ built against the INSTALLED library ($BUILD/stage, made by
# `make tests-build` with the install recipe) through pkg-config, as an
# embedder would: train_tiny links libxfmr.so, generate links libxfmr.a.
# train_tiny's loss must go down and its checkpoint must load in the CLI;
# generate's output must equal `xfmr generate` on that checkpoint, greedy and
# sampled (the same sampler seed).
# Usage: test_examples.sh BUILD_DIR
set -u
B=${1:-build}
cd "$(dirname "$0")/../.."
. tests/cli/lib.sh
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
STAGE=$(cd "$B" && pwd)/stage
export PKG_CONFIG_PATH=$STAGE/lib/pkgconfig

if ! command -v pkg-config > /dev/null; then
    if [ -n "${CI:-}" ]; then fail examples_pkg_config "pkg-config missing in CI (make deps)"; else echo "SKIP examples: pkg-config missing (make deps)"; fi
    exit $failed
fi
if [ ! -f "$STAGE/lib/pkgconfig/xfmr.pc" ]; then fail examples_installed "$STAGE is not installed (make tests-build)"; exit 1; fi
if [ "$(pkg-config --modversion xfmr)" != "$(sed -n 's/^#define XF_VERSION_STRING "\(.*\)"/\1/p' include/xfmr/version.h)" ]; then
    fail examples_pc_version "xfmr.pc says $(pkg-config --modversion xfmr)"
else pass examples_pc_version; fi

CC=${CC:-cc}
libdir=$(pkg-config --variable=libdir xfmr)
# shared: -lxfmr finds libxfmr.so; the rpath lets it run from the staged prefix
if ! $CC -std=c11 -Wall -Wextra -Werror -o "$T/train_tiny" examples/train_tiny.c \
    $(pkg-config --cflags --libs xfmr) -Wl,-rpath,"$libdir" 2> "$T/err"; then
    fail examples_build_shared "$(head -c 400 "$T/err")"
elif ! ldd "$T/train_tiny" | grep -q "libxfmr.so.0 => $libdir/"; then
    fail examples_build_shared "not linked to $libdir/libxfmr.so.0: $(ldd "$T/train_tiny" | grep xfmr)"
else pass examples_build_shared; fi
# static: the archive itself, then Libs.private's dependencies
if ! $CC -std=c11 -Wall -Wextra -Werror -o "$T/generate" examples/generate.c $(pkg-config --cflags xfmr) \
    "$libdir/libxfmr.a" $(pkg-config --libs --static xfmr | sed 's/-lxfmr\b//') 2> "$T/err"; then
    fail examples_build_static "$(head -c 400 "$T/err")"
elif ldd "$T/generate" | grep -q libxfmr; then
    fail examples_build_static "uses a shared libxfmr"
else pass examples_build_static; fi
[ -x "$T/train_tiny" ] && [ -x "$T/generate" ] || exit 1

# a small config (40k parameters) keeps the run short
echo '{"vocab_size":384,"hidden_size":32,"intermediate_size":128,"num_hidden_layers":2,
"num_attention_heads":2,"max_position_embeddings":64}' > "$T/tiny.json"
run "$T/train_tiny" "$T/ckpt" 40 "$T/tiny.json"
if [ "$rc" -ne 0 ]; then
    fail examples_train_tiny "exit $rc: $(head -c 300 "$T/err")"
else
    first=$(awk '$1 == "step" && $2 == 1 { print $4 }' "$T/out")
    last=$(awk '$1 == "step" && $2 == 40 { print $4 }' "$T/out")
    if [ -z "$first" ] || [ -z "$last" ]; then fail examples_train_tiny "no loss lines: $(head -c 300 "$T/out")"
    elif ! awk -v a="$first" -v b="$last" 'BEGIN { exit !(a > 4 && b < 0.85 * a) }'; then
        fail examples_train_tiny "loss $first at step 1, $last at step 40: not going down"
    elif ! "$B/xfmr" info --model "$T/ckpt" > /dev/null 2> "$T/err"; then
        fail examples_train_tiny "the CLI cannot read the checkpoint: $(cat "$T/err")"
    else pass examples_train_tiny; fi
fi

for temp in 0 0.8; do
    run "$T/generate" "$T/ckpt" "Once upon a time" 30 $temp
    cp "$T/out" "$T/example.out"
    n=$(sed -n 's/^\[[0-9]* prompt + \([0-9]*\) generated tokens\]$/\1/p' "$T/err")
    "$B/xfmr" generate --model "$T/ckpt" --prompt "Once upon a time" -n 30 --temperature $temp --seed 1 --quiet \
        > "$T/cli.out" 2> "$T/cli.err"
    if [ "$rc" -ne 0 ]; then fail examples_generate_t$temp "exit $rc: $(head -c 300 "$T/err")"
    elif [ -z "$n" ] || [ "$n" -lt 1 ]; then fail examples_generate_t$temp "no tokens generated: $(cat "$T/err")"
    elif ! cmp -s "$T/example.out" "$T/cli.out"; then
        fail examples_generate_t$temp "differs from xfmr generate: $(head -c 200 "$T/example.out") vs $(head -c 200 "$T/cli.out")"
    else pass examples_generate_t$temp; fi
done
exit $failed
