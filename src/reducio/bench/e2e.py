"""Benchmark 3: end-to-end text-to-video, broken down by stage.

Stages (exclusive wall times; they add up to the total):
    text_encode        the text encoder (T5-XXL at full scale; MiniLM for tiny), once per video:
                       both stages read its tokens
    stage1             text tokens -> content image (PixArt-alpha 1024 + SD VAE decode at full
                       scale; the built-in pixel DiT for tiny)
    image_conditions   the DiT's image conditions of the content frame (CLIP ViT-H tokens + SD-VAE
                       latent at full scale; pixel patches + pooled RGB for tiny)
    dit_loop           Reducio-DiT sampling: `steps` scheduler steps with text guidance 4.5 and
                       image guidance 1.0 (2 DiT passes per step, batched), plus scheduler work
                       and the pipeline's own steps (output conversion)
    vae_decode         Reducio-VAE decode around the content frame (tiled at 1024 px), including
                       its content-encoder pass
Generation itself runs through the diffusers pipelines of `reducio.pipelines`
(ReducioTextToVideoPipeline for tiny; diffusers' PixArtAlphaPipeline for stage 1 +
ReducioImageToVideoPipeline for full), with the pipeline's `_encode_text`, `encode_image`,
`generate_content_image` and the VAE's `decode` wrapped by `StageTimer` (CUDA events on a GPU).
With model CPU offload (diffusers' `enable_model_cpu_offload`) a model's copy to the device, and
the previous model's copy back, is billed to the stage that runs it. All weights are random: only
shapes set the time. The paper reports 15.5 s for 16 x 1024 x 1024 on one A100 (its breakdown is
not given).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from reducio.bench import e2e_components as comp
from reducio.bench.decode import set_conv3d_layout
from reducio.bench.dit import build_dit
from reducio.bench.e2e_components import CLIP_VIT_H_14, PIXART_1024, SD_VAE, T5_XXL
from reducio.bench.env import (dtype_name, environment, hardware_label, parse_dtype, resolve_device,
    set_threads)
from reducio.bench.isolate import BenchmarkError, run_measurement
from reducio.bench.memory import process_peak_rss_mib
from reducio.bench.report import markdown_table
from reducio.bench.timing import StageTimer
from reducio.bench.vae import REDUCIO_PREFIX, _reducio, reducio_config
from reducio.conditioning import MiniLMTextEncoder, PatchPixelSemanticEncoder, PooledRGBContentEncoder
from reducio.diffusion import DiffusionConfig, make_scheduler
from reducio.models.dit import DiTConfig
from reducio.pipelines import (ReducioImageToVideoPipeline, ReducioStage1Generator,
    ReducioTextToVideoPipeline, Stage1Config)

PAPER_A100_S = 15.5  # 16 x 1024 x 1024, one A100 (paper abstract)
STAGES = ("text_encode", "stage1", "image_conditions", "dit_loop", "vae_decode")


@dataclass(frozen=True, kw_only=True)
class E2ESpec:
    """What one end-to-end run generates and with which (random-weight) models.

    `kind` "full": T5 (config `text`), PixArt (config `stage1`) + SD VAE, CLIP (`semantic`),
    SD-VAE encoder (`content`). `kind` "tiny": MiniLM, the built-in stage-1 preset, pixel
    patches, pooled RGB (the dicts are unused).
    """

    name: str
    kind: str  # "full" | "tiny"
    size: int
    frames: int = 16
    vae_preset: str
    dit_preset: str
    dit_overrides: dict = field(default_factory=dict)
    steps: int = 20
    stage1_steps: int = 20
    stage1_guidance_scale: float = 4.5   # <= 1: no CFG in stage 1 (e.g. a PixArt-LCM-style model)
    guidance_scale: float = 4.5
    image_guidance_scale: float = 1.0
    text: dict = field(default_factory=dict)
    text_length: int = 120
    stage1: dict = field(default_factory=dict)
    stage1_vae: dict = field(default_factory=dict)
    semantic: dict = field(default_factory=dict)
    content: dict = field(default_factory=dict)

    def replace(self, **changes: Any) -> E2ESpec:
        return dataclasses.replace(self, **changes)


E2E_SPECS: dict[str, E2ESpec] = {
    # The paper's setting: 16 x 1024^2, the 1.2B DiT, ft4 with 1024 px tiling.
    "full": E2ESpec(name="full", kind="full", size=1024, vae_preset="ft4-1024",
                    dit_preset="reducio-dit-1.2b", text=T5_XXL, stage1=PIXART_1024,
                    stage1_vae=SD_VAE, semantic=CLIP_VIT_H_14, content=SD_VAE),
    # CPU-sized: the tiny presets at 64 px (what the shapes world trains at).
    "tiny": E2ESpec(name="tiny", kind="tiny", size=64, vae_preset="tiny", dit_preset="tiny",
                    text_length=64),
}


class EmbeddingsOnlyTokenizer:
    """The full setting's tokenizer slot. T5 with random weights has no tokenizer offline: every
    prompt reaches the pipeline as T5 token states (`prompt_embeds`), so tokenizing is an error."""

    def __call__(self, *args: Any, **kwargs: Any):
        raise BenchmarkError("the e2e benchmark passes prompts as prompt_embeds; the full "
                             "setting has no tokenizer")


def _video_scheduler(dit):
    """(DiffusionConfig, scheduler) for the DiT's prediction type (DPM-Solver++ for epsilon)."""
    config = DiffusionConfig.for_prediction(dit.arch.prediction_type)
    return config, make_scheduler(config, None)


def _full_pipelines(spec: E2ESpec, vae, dit, device, dtype):
    """(T5 encoder, PixArtAlphaPipeline, ReducioImageToVideoPipeline); the T5 model is also the
    video pipeline's text_encoder (its width is checked, and offload moves it), but prompts arrive
    as embeddings."""
    t5 = comp.build_t5_encoder(spec.text, device, dtype)
    stage1 = comp.build_pixart_pipeline(spec.stage1, spec.stage1_vae, device, dtype)
    diffusion, scheduler = _video_scheduler(dit)
    i2v = ReducioImageToVideoPipeline(
        vae, dit, scheduler, t5, EmbeddingsOnlyTokenizer(),
        comp.build_clip_vision(spec.semantic, device, dtype),
        comp.build_sd_encoder(spec.content, device, dtype),
        diffusion_config=diffusion, max_sequence_length=spec.text_length)
    return t5, stage1, i2v


def _tiny_pipeline(spec: E2ESpec, vae, dit, device, dtype):
    """ReducioTextToVideoPipeline: MiniLM, a fresh tiny-image stage 1, pixel patches, pooled RGB."""
    with torch.device(device):
        stage1 = ReducioStage1Generator(Stage1Config.preset("tiny-image"))
    stage1 = stage1.to(device=device, dtype=dtype).eval()
    text = MiniLMTextEncoder.load(max_length=spec.text_length, device=device, torch_dtype=dtype)
    diffusion, scheduler = _video_scheduler(dit)
    return ReducioTextToVideoPipeline.from_stage1(
        stage1, vae=vae, transformer=dit, scheduler=scheduler, text_encoder=text.model,
        tokenizer=text.tokenizer, semantic_encoder=PatchPixelSemanticEncoder(),
        content_encoder=PooledRGBContentEncoder(), diffusion_config=diffusion,
        max_sequence_length=spec.text_length)


def _timed_methods(pipe) -> list[tuple[Any, str, str]]:
    """(object, method, stage) of the calls billed to a stage of their own. Stable objects only:
    the pipeline's encoders are wrapped anew on every `encode_image` call, so that method is
    timed, not the wrappers."""
    targets = [(pipe, "_encode_text", "text_encode"), (pipe, "encode_image", "image_conditions"),
               (pipe.vae, "decode", "vae_decode")]
    if hasattr(pipe, "generate_content_image"):
        targets.append((pipe, "generate_content_image", "stage1"))
    hook = getattr(pipe.vae, "_hf_hook", None)
    if hook is not None:
        # with offload the pipeline moves the VAE on (and the DiT off) just before decoding:
        # a second vae_decode call per window
        targets.append((hook, "pre_forward", "vae_decode"))
    return targets


def _instrument(timer: StageTimer, pipe) -> None:
    for obj, method, stage in _timed_methods(pipe):
        timer.wrap(obj, method, stage)


def _unwrap(pipe) -> None:
    """Drop the instance-level timing wrappers so the next run wraps the originals again (the
    offload hooks are replaced after every call, theirs go with them)."""
    for obj, method, _ in _timed_methods(pipe):
        if method in vars(obj):
            object.__delattr__(obj, method)


def requested_offload(offload: bool | str | None) -> str | None:
    """The offload option by name: None (off), "copy" (True) or "pinned"; anything else is refused."""
    mode = {True: "copy", False: None, "none": None}.get(offload, offload)
    if mode not in (None, "copy", "pinned"):
        raise BenchmarkError(f"offload must be 'copy', 'pinned' or off, got {offload!r}")
    return mode


def offload_mode(offload: bool | str | None) -> str | None:
    """What runs for the offload option: None (off) or "copy", diffusers' model CPU offload
    (`enable_model_cpu_offload`), which copies each model to the device when it runs and back to
    the CPU when the next one does. "pinned" is accepted and runs as "copy": diffusers' offload
    keeps no pinned CPU copies."""
    return None if requested_offload(offload) is None else "copy"


def measure_e2e(*, spec: dict, device: str = "cpu", dtype: str = "fp32", warmup: int = 1,
                compile: str | bool = "none", threads: int | None = None, seed: int = 0,
                vae_tiling: str = "preset", channels_last: bool = False,
                compile_mode: str | None = None, extra_steps: tuple[int, ...] = (),
                offload: bool | str = False) -> dict:
    """Build everything, generate `warmup` untimed videos, then one timed (own process on CPU),
    then one timed per entry of `extra_steps` (same models, same compiled graphs).

    vae_tiling: "preset" (ft4-1024: the release's tiles), "off" (whole-frame decode: fewer FLOPs,
    not parity-exact). channels_last: the VAE decoder's 3D convolutions in NDHWC. compile_mode:
    torch.compile mode for the DiT ("reduce-overhead" = CUDA graphs). offload: model CPU offload,
    diffusers' `enable_model_cpu_offload(device=...)` on each pipeline (`offload_mode`): every
    model in CPU memory, copied to the device when it runs and back when the next one runs; the
    peak memory then is about one model's weights plus activations. "copy", True and "pinned" all
    run it (the record keeps the requested name in `offload_requested`)."""
    set_threads(threads)
    requested = requested_offload(offload)
    offload = offload_mode(offload)
    spec = E2ESpec(**spec)
    dev, torch_dtype = resolve_device(device), parse_dtype(dtype)
    dit_config = DiTConfig.preset(spec.dit_preset)
    if spec.dit_overrides:
        dit_config = dit_config.replace(**spec.dit_overrides)
    dit = build_dit(dit_config, torch_dtype, dev)
    if vae_tiling not in ("preset", "off"):
        raise BenchmarkError(f"vae_tiling must be 'preset' or 'off', got {vae_tiling!r}")
    vae = _reducio(f"reducio-{spec.vae_preset}", torch_dtype, dev,
                   tiling=None if vae_tiling == "preset" else False)
    if channels_last:
        set_conv3d_layout(vae.decoder, True)
    compile = {False: "none", True: "dit"}.get(compile, compile)
    if compile not in ("none", "dit", "all"):
        raise BenchmarkError(f"compile must be 'none', 'dit' or 'all', got {compile!r}")
    if compile in ("dit", "all"):
        dit.compile(mode=compile_mode)
    if compile == "all":
        vae.decoder.compile()   # per tile shape; the tiled decode reuses one shape for every tile
    prompt = "a red ball bouncing on a wooden floor, camera slowly panning right"

    if spec.kind == "full":
        t5, stage1, pipe = _full_pipelines(spec, vae, dit, dev, torch_dtype)
        if offload:
            pipe.enable_model_cpu_offload(device=dev)      # T5 is its text_encoder
            stage1.enable_model_cpu_offload(device=dev)
        g = torch.Generator().manual_seed(seed)
        # token ids stand in for the tokenizer (microseconds); [prompt, empty negative] batched
        ids = torch.randint(2, spec.text["vocab_size"], (2, spec.text_length), generator=g).to(dev)
        mask = torch.ones_like(ids)

        def generate(timer: StageTimer, steps: int):
            with timer.stage("text_encode"):
                tokens = t5(input_ids=ids, attention_mask=mask).last_hidden_state   # 2 L D
                if offload:
                    t5.to("cpu")   # before stage 1; its offload hook moves it on again when called
            with timer.stage("stage1"):
                image = stage1(negative_prompt=None, prompt_embeds=tokens[:1],
                               prompt_attention_mask=mask[:1],
                               negative_prompt_embeds=tokens[1:],
                               negative_prompt_attention_mask=mask[1:],
                               num_inference_steps=spec.stage1_steps,
                               guidance_scale=spec.stage1_guidance_scale, height=spec.size,
                               width=spec.size, output_type="pt", use_resolution_binning=False,
                               generator=torch.Generator(dev).manual_seed(seed)).images
                image = image.float() * 2 - 1                              # B 3 H W in [-1, 1]
            with timer.stage("dit_loop"):
                return pipe(image, prompt_embeds=tokens[:1], prompt_attention_mask=mask[:1].bool(),
                            num_inference_steps=steps, guidance_scale=spec.guidance_scale,
                            image_guidance_scale=spec.image_guidance_scale,
                            num_frames=spec.frames, output_type="pt",
                            generator=torch.Generator(dev).manual_seed(seed))
    elif spec.kind == "tiny":
        pipe = _tiny_pipeline(spec, vae, dit, dev, torch_dtype)
        if offload:
            pipe.enable_model_cpu_offload(device=dev)

        def generate(timer: StageTimer, steps: int):
            with timer.stage("dit_loop"):
                return pipe(prompt, num_inference_steps=steps,
                            guidance_scale=spec.guidance_scale,
                            image_guidance_scale=spec.image_guidance_scale,
                            stage1_num_inference_steps=spec.stage1_steps,
                            stage1_guidance_scale=spec.stage1_guidance_scale, num_candidates=1,
                            height=spec.size, width=spec.size, num_frames=spec.frames,
                            output_type="pt", generator=torch.Generator(dev).manual_seed(seed))
    else:
        raise BenchmarkError(f"E2ESpec.kind must be 'full' or 'tiny', got {spec.kind!r}")
    pipe.set_progress_bar_config(disable=True)

    def run_once(steps: int) -> tuple[StageTimer, Any]:
        timer = StageTimer(dev)
        _instrument(timer, pipe)
        try:
            with torch.no_grad():
                out = generate(timer, steps)
        finally:
            _unwrap(pipe)
        return timer, out

    for _ in range(warmup):
        run_once(spec.steps)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    timer, out = run_once(spec.steps)
    frames = out.frames                                                            # B T 3 H W
    more = {}
    for steps in extra_steps:
        extra_timer, extra_out = run_once(steps)
        more[str(steps)] = {"timing": extra_timer.to_dict(),
                            "pipeline_timings": dict(extra_out.timings)}
        del extra_out
    record = {"spec": dataclasses.asdict(spec), "device": str(dev), "dtype": dtype_name(torch_dtype),
              "compile": compile, "compile_mode": compile_mode, "vae_tiling": vae_tiling,
              "vae_tiled": bool(vae.use_tiling), "channels_last": channels_last, "offload": offload,
              "offload_requested": requested, "warmup": warmup,
              "output_shape": list(frames.shape), "output_layout": "B T 3 H W",
              "timing": timer.to_dict(), "pipeline_timings": dict(out.timings),
              "extra_steps": more,
              "dit_parameters": sum(p.numel() for p in dit.parameters()),
              "vae_decoder_parameters": sum(p.numel() for p in vae.decoder.parameters()),
              "threads": torch.get_num_threads()}
    record["process_peak_rss_mib"] = process_peak_rss_mib() if dev.type == "cpu" else None
    if dev.type == "cuda":
        record["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
        record["cuda_peak_reserved_mib"] = torch.cuda.max_memory_reserved(dev) / 2**20
    return record


def _compile_label(mode) -> str:
    mode = {False: "none", True: "dit"}.get(mode, mode)
    return {"none": "", "dit": ", torch.compile (DiT)", "all": ", torch.compile (DiT + VAE decoder)"}[mode]


def _decode_label(r: dict) -> str:
    parts = []
    if r.get("vae_tiling") == "off":
        parts.append("untiled VAE decode (not parity-exact)")
    if r.get("channels_last"):
        parts.append("channels-last 3D decoder")
    if r.get("compile_mode"):
        parts.append(f"compile mode {r['compile_mode']}")
    if r.get("offload"):
        pinned = r.get("offload_requested") == "pinned"
        parts.append("model CPU offload (diffusers, copied both ways"
                     + ("; 'pinned' requested: diffusers has no pinned mode" if pinned else "") + ")")
    return "".join(", " + p for p in parts)


def run_e2e_benchmark(*, scale: str | None = None, spec: E2ESpec | None = None,
                      device: str | None = None, dtype: str | None = None,
                      steps: int | None = None, stage1_steps: int | None = None,
                      stage1_guidance: float | None = None,
                      frames: int | None = None, size: int | None = None, vae: str | None = None,
                      compile: str | bool = "none",
                      warmup: int = 1, isolated: bool | None = None, threads: int | None = None,
                      seed: int = 0, vae_tiling: str = "preset", channels_last: bool = False,
                      compile_mode: str | None = None, extra_steps: tuple[int, ...] = (),
                      offload: bool | str = False, progress=print) -> dict:
    """One timed generation (after `warmup` untimed ones); returns the JSON record."""
    dev = resolve_device(device)
    cpu = dev.type == "cpu"
    requested, offload = requested_offload(offload), offload_mode(offload)
    if spec is None:
        scale = scale or ("tiny" if cpu else "full")
        if scale not in E2E_SPECS:
            raise BenchmarkError(f"unknown e2e scale {scale!r}; valid: {sorted(E2E_SPECS)}")
        spec = E2E_SPECS[scale]
    changes = {k: v for k, v in dict(steps=steps, stage1_steps=stage1_steps,
                                     stage1_guidance_scale=stage1_guidance, frames=frames,
                                     size=size, vae_preset=vae).items() if v is not None}
    spec = spec.replace(**changes)
    if vae is not None:
        try:
            reducio_config(REDUCIO_PREFIX + vae)
        except (KeyError, ValueError, TypeError) as err:
            raise BenchmarkError(f"--vae {vae!r} is not a VAE preset with valid overrides: {err}") from err
    dtype = dtype or ("fp32" if cpu else "bf16")
    isolated = cpu if isolated is None else isolated
    set_threads(threads)
    if cpu and spec.kind == "full":
        progress("[e2e] warning: the full setting on a CPU builds ~8B random parameters "
                 "(T5-XXL alone is 19 GB in fp32) and runs for hours; use --scale tiny here")
    if requested == "pinned":
        progress("[e2e] note: --offload pinned runs diffusers' model CPU offload, which copies "
                 "each model both ways (no pinned mode); recorded as offload 'copy'")
    progress(f"[e2e] {spec.name}: {spec.frames}x{spec.size}x{spec.size}, {spec.steps} steps, "
             f"{dtype} on {dev} ...")
    result = run_measurement("reducio.bench.e2e:measure_e2e",
                             dict(spec=dataclasses.asdict(spec), device=str(dev), dtype=dtype,
                                  warmup=warmup, compile=compile, threads=threads, seed=seed,
                                  vae_tiling=vae_tiling, channels_last=channels_last,
                                  compile_mode=compile_mode, extra_steps=tuple(extra_steps),
                                  offload=requested or False),
                             isolated=isolated, threads=threads)
    return {"benchmark": "e2e", "environment": environment(dev),
            "settings": {"scale": spec.name, "dtype": dtype, "compile": compile,
                         "compile_mode": compile_mode, "vae_tiling": vae_tiling,
                         "channels_last": channels_last, "offload": offload,
                         "offload_requested": requested, "warmup": warmup,
                         "isolated": isolated, "seed": seed},
            "paper_a100_s": PAPER_A100_S, "result": result}


def e2e_tables(record: dict) -> str:
    r = record["result"]
    spec, stages = r["spec"], r["timing"]["stages_s"]
    total = sum(stages.values())
    full = spec["name"] == "full"
    rows = [[name, stages.get(name), None if not total else 100 * stages.get(name, 0) / total,
             r["timing"]["calls"].get(name), None] for name in STAGES if name in stages]
    rows.append(["total", total, 100.0 if total else None, None,
                 record["paper_a100_s"] if full else None])
    head = (f"End to end ({spec['name']}): {spec['frames']}x{spec['size']}x{spec['size']}, "
            f"DiT {spec['dit_preset']} {spec['steps']} steps (text guidance "
            f"{spec['guidance_scale']}, image {spec['image_guidance_scale']}), stage 1 "
            f"{spec['stage1_steps']} steps (guidance {spec.get('stage1_guidance_scale', 4.5)}), VAE {spec['vae_preset']}; {r['dtype']}"
            f"{_compile_label(r['compile'])}{_decode_label(r)} on {hardware_label(record['environment'])}"
            f"; warm-up {r['warmup']}; random weights.")
    table = markdown_table(["stage", "seconds", "% of total", "calls", "paper, 1x A100 (s)"], rows)
    extra = r.get("extra_steps") or {}
    if extra:
        runs = [(spec["steps"], stages)] + [(int(k), v["timing"]["stages_s"]) for k, v in extra.items()]
        table += "\n\nSame models and compiled graphs, per DiT step count:\n\n" + markdown_table(
            ["DiT steps", *[n for n in STAGES], "total"],
            [[n, *[st.get(name) for name in STAGES], sum(st.values())] for n, st in runs])
    memory = ""
    if r.get("cuda_peak_allocated_mib") is not None:
        memory = (f"\n\nPeak GPU memory of the timed runs: {r['cuda_peak_allocated_mib'] / 1024:.1f} GiB "
                  f"allocated, {(r.get('cuda_peak_reserved_mib') or 0) / 1024:.1f} GiB reserved "
                  f"(+ the CUDA context){' with model CPU offload' if r.get('offload') else ', every model resident'}.")
    elif r.get("process_peak_rss_mib") is not None:
        memory = f"\n\nPeak process memory (RSS): {r['process_peak_rss_mib']:.0f} MiB."
    table += memory
    note = ("The paper's 15.5 s is for the full setting on an A100 (no per-stage breakdown "
            "published); this run is " + ("that setting." if full else
                                          "the tiny setting, not comparable with it."))
    return "\n".join([head, "", table, "", note])
