# Sourced by the scripts/gpu/bench_*.sh device calls: install the carried wheels (the device has
# torch but not diffusers), set the paths, and `B NAME LIMIT ARGS...` = one `reducio bench ARGS`
# under a time limit, its JSON and log in $OUT, the table's key lines echoed.
OUTD=${OUT:-/tmp/out}; mkdir -p "$OUTD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/diffusers-*.whl .whl/importlib_metadata-*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
B() { local name=$1 limit=$2; shift 2; echo "=== $name (t=$SECONDS s)"
  timeout -k 5 "$limit" python3 -c "import sys; from reducio.cli.bench import main; sys.exit(main(sys.argv[1:], 'reducio bench ' + ' '.join(sys.argv[1:])))" \
    "$@" -o "$OUTD/$name.json" > "$OUTD/$name.log" 2>&1; echo "rc=$?"
  grep -A12 "per DiT step count" "$OUTD/$name.log" | head -8; grep -i "peak" "$OUTD/$name.log" | head -3; tail -n 3 "$OUTD/$name.log"; }
