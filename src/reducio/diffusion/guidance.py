"""Classifier-free guidance on text and image (Ho & Salimans; two-condition form of
InstructPix2Pix), and the condition dropout that trains the unconditional branches.

With cond = p(text, image), uncond_text = p(image only) and uncond = p(nothing):

    out = cond + (s_text - 1) (cond - uncond_text) + (s_image - 1) (uncond_text - uncond)

which equals uncond + s_image (uncond_text - uncond) + s_text (cond - uncond_text), written so that
scales of 1 return `cond` bit for bit (no cancellation error).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from reducio.errors import PipelineInputError

BATCHED_CONDITIONS = ("text", "text_mask", "semantic", "content")


def sample_condition_drop(batch: int, text_prob: float, image_prob: float, *,
                          generator: torch.Generator | None = None,
                          device: torch.device | str | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(drop_text, drop_image): independent per-sample Bernoulli draws, (B,) bool each."""
    draw_device = generator.device if generator is not None else torch.device(device or "cpu")
    u = torch.rand(2, batch, generator=generator, device=draw_device).to(device or draw_device)
    return u[0] < text_prob, u[1] < image_prob


def combine_guidance(cond: torch.Tensor, *, uncond_text: torch.Tensor | None = None,
                     uncond: torch.Tensor | None = None, text_scale: float = 1.0,
                     image_scale: float = 1.0) -> torch.Tensor:
    """Guided prediction from the conditional one and the needed unconditional ones (see module)."""
    out = cond
    if text_scale != 1.0:
        if uncond_text is None:
            raise PipelineInputError(f"text guidance {text_scale} needs uncond_text "
                                     "(the prediction with the text dropped)")
        out = out + (text_scale - 1.0) * (cond - uncond_text)
    if image_scale != 1.0:
        if uncond_text is None or uncond is None:
            raise PipelineInputError(f"image guidance {image_scale} needs uncond_text and uncond "
                                     "(text dropped; text and image dropped)")
        out = out + (image_scale - 1.0) * (uncond_text - uncond)
    return out


def guided_prediction(model: Callable[..., torch.Tensor], latent: torch.Tensor,
                      timestep: torch.Tensor | float, *, text_scale: float = 1.0,
                      image_scale: float = 1.0, negative_text: torch.Tensor | None = None,
                      negative_text_mask: torch.Tensor | None = None,
                      **conditions) -> torch.Tensor:
    """Run the DiT on the passes guidance needs (one batched call) and combine them.

    Args:
        model: a ReducioDiT (or anything with its forward signature).
        latent: (B, C, t, h, w); timestep: scalar or (B,).
        text_scale, image_scale: guidance scales; 1 or below disables that guidance (both off:
            one plain conditional pass, returned unchanged).
        negative_text, negative_text_mask: optional (B, L, D) / (B, L) embeddings of a negative
            prompt, used instead of the learned null text in the text-dropped passes. L must equal
            the text's L (encoders pad to a fixed max_length).
        conditions: the forward's keyword conditions (text, text_mask, semantic, content,
            content_split).
    """
    for name in ("drop_text", "drop_image"):
        if name in conditions:
            raise PipelineInputError(f"guided_prediction sets {name} itself; do not pass it")
    # diffusers' convention: a scale at or below 1 turns that guidance off (one conditional pass)
    text_scale, image_scale = max(float(text_scale), 1.0), max(float(image_scale), 1.0)
    passes = [(False, False)]                       # cond
    if text_scale != 1.0 or image_scale != 1.0:
        passes.append((True, False))                # uncond_text: image only
    if image_scale != 1.0:
        passes.append((True, True))                 # uncond: nothing
    if len(passes) == 1:
        return model(latent, timestep, **conditions, return_dict=False)[0]

    batch, k = latent.shape[0], len(passes)
    device = latent.device
    batched = {name: value for name, value in conditions.items()
               if name in BATCHED_CONDITIONS and value is not None}
    extra = {name: value for name, value in conditions.items() if name not in batched}
    if negative_text is not None:
        text = batched.get("text")
        if text is not None and "text_mask" not in batched:
            batched["text_mask"] = torch.ones(text.shape[:2], dtype=torch.bool, device=device)
        if text is None or negative_text.shape != text.shape:
            raise PipelineInputError(
                f"negative_text must have the text's shape {None if text is None else tuple(text.shape)}, "
                f"got {tuple(negative_text.shape)}; encode both with the same text encoder")
    inputs: dict[str, list[torch.Tensor]] = {name: [] for name in batched}
    drop_text, drop_image = [], []
    for text_dropped, image_dropped in passes:
        use_negative = text_dropped and negative_text is not None
        for name, value in batched.items():
            if use_negative and name == "text":
                value = negative_text
            elif use_negative and name == "text_mask":
                value = (negative_text_mask if negative_text_mask is not None
                         else torch.ones_like(value, dtype=torch.bool))
            inputs[name].append(value)
        drop_text.append(torch.full((batch,), text_dropped and not use_negative, device=device))
        drop_image.append(torch.full((batch,), image_dropped, device=device))

    t = torch.as_tensor(timestep, device=device)
    t = t if t.ndim == 0 else t.repeat(k)
    out = model(torch.cat([latent] * k), t,
                **{name: torch.cat(values) for name, values in inputs.items()},
                drop_text=torch.cat(drop_text), drop_image=torch.cat(drop_image), **extra,
                return_dict=False)[0]
    preds = out.chunk(k)
    return combine_guidance(preds[0], uncond_text=preds[1],
                            uncond=preds[2] if k == 3 else None,
                            text_scale=text_scale, image_scale=image_scale)
