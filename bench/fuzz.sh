#!/usr/bin/env bash
# Fuzzes Warden's input-reading code with libFuzzer: the JSON parser, the SSE decoder, the OpenAI and
# Anthropic request and stream decoders, the Cedar policy and schema parsers, and the config loader
# (Sources/WardenFuzzTargets). A sanitizer build does not fit in the test suite's time, so it lives here.
#
#   bench/fuzz.sh [TARGET...]          (default: every target; SECONDS_PER_TARGET=120 each)
#
# Builds bench/fuzz (warden-fuzz) with `-sanitize=fuzzer,address` into .build-fuzz, then runs each
# target from a working copy of its corpus (Tests/FuzzRegressionTests/corpus/TARGET). At the end the
# corpus is minimised back into the repository (`-merge=1`: only inputs that reach new code are kept),
# and every crash libFuzzer found is copied to Tests/FuzzRegressionTests/crashes/TARGET/, where the
# normal test build replays it. The script exits 1 if any target crashed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-120}
SCRATCH=${SCRATCH:-$ROOT/.build-fuzz}
WORK=${WORK:-/tmp/warden-fuzz}
CORPORA=$ROOT/Tests/FuzzRegressionTests/corpus
CRASHES=$ROOT/Tests/FuzzRegressionTests/crashes
TARGETS=${*:-json sse openai-request anthropic-request openai-stream anthropic-stream cedar cedar-schema config}

cd "$ROOT"
# libFuzzer brings a main of its own; lld with --allow-multiple-definition keeps warden-fuzz's (gold cannot link it).
swift build --product warden-fuzz --scratch-path "$SCRATCH" -Xswiftc -sanitize=fuzzer,address -Xswiftc -DWARDEN_FUZZ \
  -Xswiftc -use-ld=lld -Xlinker --allow-multiple-definition
BIN=$SCRATCH/debug/warden-fuzz
failed=0
for target in $TARGETS; do
  work=$WORK/$target
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "$CORPORA/$target/." "$work/corpus/" 2>/dev/null || true
  echo "== $target ($SECONDS_PER_TARGET s)"
  if ! WARDEN_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$BIN" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" > "$work/log.txt" 2>&1; then
    failed=1
  fi
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done|==.*ERROR)" "$work/log.txt" || true
  mkdir -p "$CRASHES/$target"
  for crash in "$work"/artifacts/crash-* "$work"/artifacts/timeout-* "$work"/artifacts/oom-*; do
    [ -e "$crash" ] || continue
    echo "   found $(basename "$crash"): kept in Tests/FuzzRegressionTests/crashes/$target/"
    cp "$crash" "$CRASHES/$target/"
  done
  # Keep only inputs that reach new code: the repository's corpus stays small.
  mkdir -p "$work/merged"
  WARDEN_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$BIN" -merge=1 "$work/merged" "$CORPORA/$target" "$work/corpus" > /dev/null 2>&1 || true
  if [ -n "$(ls -A "$work/merged")" ]; then
    # The hand-written seeds stay; libFuzzer names the others by the SHA-1 of their content.
    seeds=$(for s in "$CORPORA/$target"/seed-*; do sha1sum "$s" | cut -d" " -f1; done)
    find "$CORPORA/$target" -type f ! -name 'seed-*' -delete
    for f in "$work"/merged/*; do
      name=$(basename "$f")
      grep -q "$name" <<< "$seeds" || cp "$f" "$CORPORA/$target/$name"
    done
  fi
  echo "   corpus: $(ls "$CORPORA/$target" | wc -l) inputs"
done
exit $failed
