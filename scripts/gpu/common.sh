# Sourced by the scripts/gpu/bench_*.sh device calls: install the carried wheels (the device has
# torch but not diffusers), set the paths, and
#   B NAME LIMIT ARGS...   one `reducio bench ARGS` (the package's CLI from this checkout, which
#                          the device does not install) under a time limit (cut to what is left of
#                          $BUDGET seconds; skipped under 25 s), its JSON and log in $OUTD,
#                          the table's key lines echoed
#   finish                 pack $OUTD into $OUT/results.tgz (the device returns at most 8 files)
T0=$SECONDS
OUTD=/tmp/bench-out; mkdir -p "$OUTD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/diffusers-*.whl .whl/importlib_metadata-*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
B() { local name=$1 limit=$2; shift 2
  local left=$(( ${BUDGET:-100000} - (SECONDS - T0) ))
  if [[ $left -lt 25 ]]; then echo "=== $name: skipped, ${left} s left"; return 1; fi
  [[ $left -lt $limit ]] && limit=$left
  echo "=== $name (t=$((SECONDS - T0)) s, limit $limit s): $*"
  timeout -k 5 "$limit" python3 -m reducio.cli.main bench "$@" -o "$OUTD/$name.json" > "$OUTD/$name.log" 2>&1
  echo "rc=$? t=$((SECONDS - T0)) s"
  grep -v "^W1\|^I1\|Warning\|warn(" "$OUTD/$name.log" | grep "^|\|peak\|FAILED\|total" | head -24; }
finish() { echo "=== done t=$((SECONDS - T0)) s"
  tar czf "${OUT:-/tmp}/results.tgz" -C "$OUTD" . && ls -la "$OUTD"; }
