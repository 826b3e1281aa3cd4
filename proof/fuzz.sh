#!/usr/bin/env bash
# proof/fuzz.sh FUZZER CORPUS WORKDIR SECONDS expect-clean|expect-crash
#
# Runs the libFuzzer target for SECONDS from the committed CORPUS (read only: new inputs
# go to WORKDIR/new, crash inputs to WORKDIR/artifacts), with proof/fuzz.dict.
#   expect-clean  passes when the fuzzer found nothing (exit 0 after SECONDS);
#   expect-crash  passes only when the fuzzer crashed on a reaction that ran twice (the
#                 planted defect of a -DVOW_PLANT_DOUBLE_REACTION library) within SECONDS.
# On failure it prints the end of libFuzzer's log and the offending input.
set -u
if [ $# -ne 5 ]; then
    echo "usage: $0 FUZZER CORPUS WORKDIR SECONDS expect-clean|expect-crash" >&2
    exit 2
fi
fuzzer=$1 corpus=$2 work=$3 secs=$4 mode=$5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work/new" "$work/artifacts" || exit 2
log=$work/fuzz.log
start=$SECONDS
"$fuzzer" "$work/new" "$corpus" -max_total_time="$secs" -artifact_prefix="$work/artifacts/" \
    -dict="$here/fuzz.dict" -timeout=20 -max_len=4096 -print_final_stats=1 >"$log" 2>&1
rc=$?
took=$((SECONDS - start))
crash=$(find "$work/artifacts" -type f -name 'crash-*' -print -quit)
summary() {
    grep -E '^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::new_units_added' "$log" |
        sed 's/^/  /'
}
show_crash() {
    echo "--- end of libFuzzer's log ($log):"
    grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' "$log" | tail -n 40
    if [ -n "$crash" ]; then
        echo "--- the input ($crash):"
        head -c 3000 "$crash"
        echo
    fi
}
case $mode in
expect-clean)
    if [ $rc -eq 0 ] && [ -z "$crash" ]; then
        echo "fuzz.sh: OK: ${took}s of fuzzing, nothing found"
        summary
        exit 0
    fi
    echo "fuzz.sh: FAIL: the fuzzer found a problem (exit $rc after ${took}s)"
    show_crash
    exit 1
    ;;
expect-crash)
    if [ $rc -ne 0 ] && [ -n "$crash" ] && grep -q 'proof: FATAL: a callback ran twice' "$log"; then
        echo "fuzz.sh: OK: the planted double reaction was found after ${took}s"
        grep -m1 'proof: FATAL' "$log" | sed 's/^/  /'
        echo "  input: $crash"
        head -c 1500 "$crash" | sed 's/^/    /'
        echo
        exit 0
    fi
    if [ $rc -ne 0 ]; then
        echo "fuzz.sh: FAIL: the fuzzer crashed (exit $rc), but not on a reaction that ran twice"
        show_crash
    else
        echo "fuzz.sh: FAIL: ${took}s of fuzzing did not find the planted double reaction"
        summary
    fi
    exit 1
    ;;
*)
    echo "fuzz.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
