# Sourced by the scripts/gpu/train_*.sh device calls: install the carried wheels (.whl/*.whl: the
# diffusers + importlib_metadata the device lacks), unpack .whl/carry.tar.xz (the MiniLM stand-in
# of pack_minilm.py, and anything else packed with it) into /tmp/carry, set the paths, and define
#   R ARGS...   `reducio ARGS` from this checkout
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
mkdir -p /tmp/carry && tar xJf .whl/carry.tar.xz -C /tmp/carry || exit 5
export PYTHONPATH=/tmp/carry/shim:/tmp/site:$PWD/src MINILM_SRC=/tmp/carry/minilm PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=2
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader; nproc
R() { python3 -c "import sys; from reducio.cli.main import main; sys.exit(main(sys.argv[1:]))" "$@"; }
