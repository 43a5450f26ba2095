#!/usr/bin/env bash
# Side-by-side training-step benchmark: taesan's bench/train_bench against the same model in
# PyTorch (bench/torch_reference.py), run alternately (taesan, PyTorch, taesan, PyTorch, ...) so
# that the noise of a shared machine hits both alike; reports each pair's ratio and the medians.
#
#   bench/compare.sh [--pairs N] [--steps N] [--warmup N] [RUN ...]     RUN = model:config:threads
#   bench/compare.sh --loss-curve [--curve-steps N] [RUN ...]           RUN = model:config
#
# Default runs: gpt:tiny:1 gpt:tiny:2 bert:tiny:1 bert:tiny:2 (timing), gpt:tiny bert:tiny (loss).
# The build folder comes from BUILD_DIR (default build/release); PYTHON defaults to
# /usr/bin/python3 (Debian's python3-torch). 1-thread runs of both are pinned to CPU 0 with
# taskset; 2-thread PyTorch runs use OMP_WAIT_POLICY=PASSIVE (its fastest setting here).
# Loss-curve mode writes taesan's initial weights to a safetensors file, trains N steps (50) from
# them with taesan at 1 and 2 threads and with PyTorch, and prints max |loss diff| vs PyTorch and
# whether taesan's 1- and 2-thread curves are bit-identical.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build/release}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH="$BUILD_DIR/bench/train_bench"
REF="$ROOT/bench/torch_reference.py"

pairs=3 steps=20 warmup=3 curve=0 curve_steps=50
runs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --pairs) pairs=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --loss-curve) curve=1; shift ;;
    --curve-steps) curve_steps=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) runs+=("$1"); shift ;;
  esac
done
if [[ ! -x "$BENCH" ]]; then
  echo "compare.sh: $BENCH not found: build it (ninja -C $BUILD_DIR train_bench) or set BUILD_DIR" >&2
  exit 2
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
  echo "compare.sh: $PYTHON cannot import torch (Debian: apt-get install python3-torch)" >&2
  exit 2
fi
LOGS=$(mktemp -d /tmp/ts_compare.XXXXXX)
echo "logs: $LOGS"

# run_side IMPL MODEL CONFIG THREADS EXTRA... : one run of one side, pinned as described above.
run_side() {
  local impl=$1 model=$2 config=$3 threads=$4
  shift 4
  local pin=() env=()
  [[ $threads == 1 ]] && pin=(taskset -c 0)
  if [[ $impl == taesan ]]; then
    "${pin[@]}" "$BENCH" --model "$model" --config "$config" --threads "$threads" "$@"
  else
    [[ $threads != 1 ]] && env=(OMP_WAIT_POLICY=PASSIVE)
    env "${env[@]}" "${pin[@]}" "$PYTHON" "$REF" --model "$model" --config "$config" --threads "$threads" "$@"
  fi
}

# field LINE KEY: the value of key=value in a RESULT line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

median() { "$PYTHON" -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

if [[ $curve == 0 ]]; then
  [[ ${#runs[@]} -eq 0 ]] && runs=(gpt:tiny:1 gpt:tiny:2 bert:tiny:1 bert:tiny:2)
  summary=()
  for run in "${runs[@]}"; do
    IFS=: read -r model config threads <<<"$run"
    [[ -n ${threads:-} ]] || { echo "compare.sh: run '$run' must be model:config:threads" >&2; exit 2; }
    echo "== $model $config ${threads}t: $pairs pairs of $steps steps (+$warmup warm-up)"
    ours=() theirs=() ratios=() rss_ratios=()
    for ((p = 1; p <= pairs; ++p)); do
      log_a="$LOGS/${model}_${config}_${threads}t_taesan_$p.log"
      log_b="$LOGS/${model}_${config}_${threads}t_pytorch_$p.log"
      run_side taesan "$model" "$config" "$threads" --steps "$steps" --warmup "$warmup" >"$log_a" 2>&1 ||
        { cat "$log_a"; exit 1; }
      run_side pytorch "$model" "$config" "$threads" --steps "$steps" --warmup "$warmup" >"$log_b" 2>&1 ||
        { cat "$log_b"; exit 1; }
      a=$(grep '^RESULT' "$log_a") b=$(grep '^RESULT' "$log_b")
      ta=$(field "$a" tok_s) tb=$(field "$b" tok_s) ra=$(field "$a" rss_mb) rb=$(field "$b" rss_mb)
      ratio=$("$PYTHON" -c "print(f'{$ta / $tb:.3f}')")
      rss_ratio=$("$PYTHON" -c "print(f'{$ra / $rb:.3f}')")
      ours+=("$ta") theirs+=("$tb") ratios+=("$ratio") rss_ratios+=("$rss_ratio")
      printf '  pair %d: taesan %8.0f tok/s (%7.2f ms, %5.1f GFLOP/s, RSS %6.1f MB) | PyTorch %8.0f tok/s (%7.2f ms, %5.1f GFLOP/s, RSS %6.1f MB) | ratio %sx\n' \
        "$p" "$ta" "$(field "$a" ms_median)" "$(field "$a" gflops)" "$ra" \
        "$tb" "$(field "$b" ms_median)" "$(field "$b" gflops)" "$rb" "$ratio"
    done
    mo=$(median "${ours[@]}") mt=$(median "${theirs[@]}") mr=$(median "${ratios[@]}")
    mrss=$(median "${rss_ratios[@]}")
    echo "  median ratio ${mr}x, peak RSS ratio (taesan / PyTorch) ${mrss}"
    summary+=("$(printf '%s %s %st: taesan %.0f tok/s, PyTorch %.0f tok/s, speedup %.2fx; peak RSS taesan/PyTorch %.2f' \
      "$model" "$config" "$threads" "$mo" "$mt" "$mr" "$mrss")")
  done
  echo
  printf '%s\n' "${summary[@]}"
  exit 0
fi

# ---- loss curves ----
[[ ${#runs[@]} -eq 0 ]] && runs=(gpt:tiny bert:tiny)
summary=()
for run in "${runs[@]}"; do
  IFS=: read -r model config _ <<<"$run"
  weights="$LOGS/${model}_${config}_init.safetensors"
  "$BENCH" --model "$model" --config "$config" --save-weights "$weights" >/dev/null
  run_side taesan "$model" "$config" 1 --loss-curve "$curve_steps" --weights "$weights" >"$LOGS/${model}_${config}_curve_t1.txt"
  run_side taesan "$model" "$config" 2 --loss-curve "$curve_steps" --weights "$weights" >"$LOGS/${model}_${config}_curve_t2.txt"
  run_side pytorch "$model" "$config" 1 --loss-curve "$curve_steps" --weights "$weights" >"$LOGS/${model}_${config}_curve_pt.txt"
  line=$("$PYTHON" - "$LOGS/${model}_${config}_curve_t1.txt" "$LOGS/${model}_${config}_curve_t2.txt" \
    "$LOGS/${model}_${config}_curve_pt.txt" "$model $config" <<'EOF'
import sys
def losses(path):
    return [float(l.split()[3]) for l in open(path) if l.startswith("step ")]
t1, t2, pt = (losses(p) for p in sys.argv[1:4])
if not t1 or len(t1) != len(t2) or len(t1) != len(pt):
    sys.exit(f"compare.sh: loss curves of different lengths: {len(t1)}, {len(t2)}, {len(pt)}")
diffs = [abs(a - b) for a, b in zip(t1, pt)]
worst = max(range(len(diffs)), key=diffs.__getitem__)
same = "bit-identical" if open(sys.argv[1]).read() == open(sys.argv[2]).read() else "DIFFERENT"
for k in (0, 1, 2, 5, 10, 20, 30, 40, len(t1) - 1):
    if k < len(t1):
        print(f"  step {k:2d}: taesan {t1[k]:.6f}  PyTorch {pt[k]:.6f}  |diff| {diffs[k]:.2e}")
print(f"{sys.argv[4]}: {len(t1)} steps, loss {t1[0]:.4f} -> {t1[-1]:.4f}; max |taesan - PyTorch| "
      f"{max(diffs):.2e} (step {worst}); taesan 1 vs 2 threads {same}")
EOF
  )
  echo "== $model $config loss curve"
  echo "$line" | sed '$d'
  summary+=("$(echo "$line" | tail -1)")
done
echo
printf '%s\n' "${summary[@]}"
