"""The one training loop: accelerate, data stream, accumulation, EMA, checkpoints, resume, logging.

Every task (VAE now, DiT later) runs through `Trainer.fit()`; what is trained and how its loss is
computed lives in an `Objective` (reducio.training.objective).

One *step* is one optimiser update of every optimiser of the objective (one iteration of the
release: a generator update then a discriminator update); with `train.grad_accum_steps = k` a
step consumes k micro-batches per process.
"""

from __future__ import annotations

import logging
import math
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from reducio.errors import CheckpointError, ConfigError, ReducioError
from reducio.training.checkpoint import (
    FORMAT_VERSION,
    CheckpointManager,
    capture_rng_state,
    read_checkpoint,
    resolve_checkpoint,
    restore_rng_state,
    write_json,
    write_safetensors,
    write_torch,
)
from reducio.training.data import BatchStream, StreamPosition, first_items_batch
from reducio.training.ema import EMA
from reducio.training.fsdp import (
    full_optimizer_state,
    full_state_dict,
    full_tensors,
    is_sharded,
    load_full_optimizer_state,
    load_full_state_dict,
)
from reducio.training.logging import MetricsWriter, ProgressBar
from reducio.training.objective import Objective
from reducio.training.samples import write_samples

logger = logging.getLogger(__name__)


class TrainingDivergedError(ReducioError):
    """The loss became NaN or infinite."""


@dataclass
class RunSummary:
    run_dir: str
    start_step: int
    final_step: int
    steps_this_run: int
    wall_time_s: float
    sec_per_step: float
    total_elapsed_s: float
    final_metrics: dict[str, float] = field(default_factory=dict)
    skipped_files: Any = None
    checkpoint: str | None = None
    export_dir: str | None = None
    effective: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_accelerator(run, *, find_unused_parameters: bool = False):
    """An `accelerate.Accelerator` for a RunSection (CPU, one GPU, or a launched multi-process job)."""
    from accelerate import Accelerator, DistributedDataParallelKwargs

    cpu = run.cpu or not torch.cuda.is_available()
    if cpu and run.mixed_precision == "fp16":
        raise ConfigError(
            "train.mixed_precision=fp16 needs a GPU and this run is on the CPU; "
            "pass --set train.mixed_precision=no (or bf16)"
        )
    return Accelerator(
        cpu=cpu,
        mixed_precision=run.mixed_precision,
        gradient_accumulation_steps=run.grad_accum_steps,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)],
    )


class Trainer:
    """Runs an objective over a dataset with the generic config sections `train`, `ema`, `logging`, `data`.

    Args:
        config: a task config (Config) with sections `train` (RunSection), `ema`
            (EMASection), `logging` (LoggingSection) and `data` (batch_size, num_workers, shuffle).
        objective: what is trained.
        train_dataset: map-style dataset of training items.
        run_dir: where config.json, metrics.jsonl, checkpoints/, samples/, final/ and summary.json go.
        sample_dataset: its first `logging.num_samples` items are the fixed sample batch
            (default: the training dataset).
        resume: None for a new run; "latest" (or True) for the newest checkpoint in run_dir; or a
            checkpoint folder.
        accelerator: an existing Accelerator (default: one made from `config.train`).
    """

    def __init__(self, config, objective: Objective, train_dataset: Dataset, *, run_dir: str | Path,
                 sample_dataset: Dataset | None = None, resume: str | Path | bool | None = None,
                 accelerator=None) -> None:
        self.config = config
        self.objective = objective
        self.train_dataset = train_dataset
        self.sample_dataset = sample_dataset
        self.run_dir = Path(run_dir)
        self.resume = "latest" if resume is True else (None if resume is False else resume)
        self.accelerator = accelerator or make_accelerator(
            config.train, find_unused_parameters=objective.find_unused_parameters
        )
        self.ema: EMA | None = None
        self.position = StreamPosition()
        self.elapsed_before = 0.0
        self._sample_fps = int(getattr(config.data, "fps", 16))

    # ------------------------------------------------------------------ setup
    def _resolve_resume(self, checkpoints: CheckpointManager) -> Path | None:
        if self.resume is None:
            existing = checkpoints.latest()
            if existing is not None:
                raise CheckpointError(
                    f"{self.run_dir} already holds checkpoints (latest {existing.name}); pass --resume to "
                    "continue that run or choose another --output-dir"
                )
            return None
        return resolve_checkpoint(self.run_dir, None if self.resume == "latest" else self.resume)

    def _load(self, path: Path) -> int:
        acc = self.accelerator
        ckpt = read_checkpoint(path, rank=acc.process_index)
        models = {name: acc.unwrap_model(model) for name, model in self.objective.models().items()}
        for name, model in models.items():
            if name not in ckpt["models"]:
                raise CheckpointError(f"checkpoint {path} has no weights for model {name!r} "
                                      f"(it has {sorted(ckpt['models'])}); it was written by another task")
            if is_sharded(model):
                load_full_state_dict(model, ckpt["models"][name])
            else:
                model.load_state_dict(ckpt["models"][name], strict=True)
        training = ckpt["training"]
        for kind, objects in (("optimizers", self.objective.optimizers()), ("schedulers", self.objective.schedulers())):
            saved = training[kind]
            if sorted(saved) != sorted(objects):
                raise CheckpointError(f"checkpoint {path} has {kind} {sorted(saved)}, this run has {sorted(objects)}; "
                                      "resume with the config the run was started with")
            for name, obj in objects.items():
                owner = models.get(name) if kind == "optimizers" else None
                if owner is not None and is_sharded(owner):
                    load_full_optimizer_state(owner, getattr(obj, "optimizer", obj), saved[name])
                else:
                    obj.load_state_dict(saved[name])
        if acc.scaler is not None and training.get("scaler"):
            acc.scaler.load_state_dict(training["scaler"])
        self.objective.load_state_dict(training.get("objective", {}))
        if self.ema is not None:
            if ckpt["ema"] is None:
                logger.warning("checkpoint %s has no EMA weights: the EMA restarts from the current weights", path)
            else:
                self.ema.load_state_dict(ckpt["ema"])
        state = ckpt["state"]
        if state.get("world_size", 1) != acc.num_processes:
            logger.warning("checkpoint written by %s processes, resuming with %s: the data order differs from an "
                           "uninterrupted run", state.get("world_size"), acc.num_processes)
        self.position = StreamPosition(epoch=state["data"]["epoch"], batch=state["data"]["batch"])
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        self._resume_rng = ckpt["rng"]
        logger.info("resumed from %s (step %d)", path, state["step"])
        return int(state["step"])

    # ------------------------------------------------------------------ saving
    def _save(self, checkpoints: CheckpointManager, step: int, elapsed: float) -> Path:
        acc = self.accelerator
        rank = acc.process_index
        objective = self.objective

        # Gathering a sharded (FSDP) model is a collective: it happens here, on every process; the
        # whole tensors land on the main process, which alone writes them.
        models = {name: acc.unwrap_model(model) for name, model in objective.models().items()}
        sharded = any(is_sharded(model) for model in models.values())
        weights = {name: full_state_dict(model) if is_sharded(model) else model.state_dict()
                   for name, model in models.items()}
        optimizers = {name: full_optimizer_state(models[name], getattr(opt, "optimizer", opt))
                      if name in models and is_sharded(models[name]) else opt.state_dict()
                      for name, opt in objective.optimizers().items()}
        ema = None if self.ema is None else (full_tensors(self.ema.state_dict()) if sharded
                                             else self.ema.state_dict())

        def write(tmp: Path, is_main: bool) -> None:
            write_torch(tmp / "rng" / f"rank{rank}.pt", capture_rng_state())
            if not is_main:
                return
            for name, state in weights.items():
                write_safetensors(tmp / "models" / f"{name}.safetensors", state)
            if ema is not None:
                write_safetensors(tmp / "ema.safetensors", ema)
            write_torch(tmp / "training.pt", {
                "optimizers": optimizers,
                "schedulers": {n: s.state_dict() for n, s in objective.schedulers().items()},
                "scaler": acc.scaler.state_dict() if acc.scaler is not None else None,
                "objective": objective.state_dict(),
            })
            write_json(tmp / "config.json", self.config.to_dict())
            write_json(tmp / "state.json", {  # last: its presence marks a complete checkpoint
                "format_version": FORMAT_VERSION,
                "task": getattr(self.config, "task", None),
                "step": step,
                "data": {"epoch": self.position.epoch, "batch": self.position.batch},
                "world_size": acc.num_processes,
                "elapsed_s": elapsed,
            })

        path = checkpoints.save(step, write)
        logger.debug("saved %s", path)
        return path

    # ------------------------------------------------------------------ samples
    def _samples(self, batch: Any, step: int, writer: MetricsWriter) -> None:
        if batch is None:
            return
        acc = self.accelerator
        devices = [acc.device] if acc.device.type == "cuda" else []
        # A forked RNG: drawing samples must not move the training stream (bitwise resume).
        with torch.random.fork_rng(devices=devices):
            target = self.objective.ema_target()
            if self.ema is not None and target is not None:
                with self.ema.swapped_into(target):
                    samples = self.objective.sample(batch, step)
            else:
                samples = self.objective.sample(batch, step)
        if acc.is_main_process:
            if samples.videos:
                write_samples(self.run_dir / "samples", step, samples.videos, fps=self._sample_fps)
            if samples.metrics:
                writer.write(step, {f"sample/{k}": v for k, v in samples.metrics.items()})

    # ------------------------------------------------------------------ the loop
    def fit(self) -> RunSummary:
        acc = self.accelerator
        cfg = self.config
        run = cfg.train
        if acc.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        acc.wait_for_everyone()
        file_log = self._attach_file_log() if acc.is_main_process else None
        checkpoints = CheckpointManager(self.run_dir, keep_last=run.keep_last, accelerator=acc)
        removed = checkpoints.clean_stale()
        if removed:
            logger.warning("removed %d unfinished checkpoint folder(s) left by a killed save", len(removed))
        resume_path = self._resolve_resume(checkpoints)

        sample_batch = first_items_batch(self.sample_dataset or self.train_dataset, cfg.logging.num_samples)

        if getattr(run, "fsdp", False) and not self.objective.supports_fsdp:
            raise ConfigError(f"train.fsdp=true: {type(self.objective).__name__} cannot shard its models "
                              "(FSDP is for `reducio train dit`); set train.fsdp=false to train with DDP")
        seed_everything(run.seed)  # the same initial weights on every process
        self.objective.setup(acc)
        target = self.objective.ema_target()
        if cfg.ema.enabled:
            if target is None:
                raise ConfigError("ema.enabled is true but this objective has no model to average; set ema.enabled=false")
            self.ema = EMA(target, decay=cfg.ema.decay, start_step=cfg.ema.start_step,
                           update_every=cfg.ema.update_every, names=self.objective.ema_names())
        effective = {
            **self.objective.effective(),
            "num_processes": acc.num_processes,
            "device": str(acc.device),
            "mixed_precision": acc.mixed_precision,
            "global_batch_size": int(cfg.data.batch_size) * acc.num_processes * run.grad_accum_steps,
        }
        if "effective" in {f for f in getattr(cfg, "__dataclass_fields__", {})}:
            self.config = cfg = cfg.replace(effective=effective)
        self._resume_rng = None
        step = self._load(resume_path) if resume_path is not None else 0
        writer = MetricsWriter(self.run_dir, tensorboard=cfg.logging.tensorboard, enabled=acc.is_main_process)
        if acc.is_main_process:
            if resume_path is not None:
                writer.truncate_after(step)
            write_json(self.run_dir / "config.json", cfg.to_dict())
        data = cfg.data
        stream = BatchStream(
            self.train_dataset, batch_size=data.batch_size, seed=run.seed, shuffle=getattr(data, "shuffle", True),
            num_workers=data.num_workers, rank=acc.process_index, world_size=acc.num_processes,
            position=self.position, pin_memory=acc.device.type == "cuda",
        )
        if self._resume_rng is not None:
            restore_rng_state(self._resume_rng)
        else:
            if resume_path is not None:
                logger.warning("no RNG state for process %d in the checkpoint: reseeding", acc.process_index)
            seed_everything(run.seed + 1000 * acc.process_index + step)

        start_step = step
        models = list(self.objective.models().values())
        bar = ProgressBar(run.max_steps, step, enabled=cfg.logging.progress_bar and acc.is_main_process)
        window: list[dict[str, float]] = []
        last_metrics: dict[str, float] = {}
        last_checkpoint = resume_path
        started = time.time()
        window_started = last_saved = started
        if step >= run.max_steps:
            logger.info("step %d already reaches train.max_steps=%d: nothing to train", step, run.max_steps)
        while step < run.max_steps:
            micro = []
            for _ in range(run.grad_accum_steps):
                batch = stream.next()
                with acc.accumulate(*models):
                    micro.append(self.objective.training_step(batch, step))
            logs = _mean(micro)
            if self.ema is not None:
                self.ema.update(target, step)
            step += 1
            self.position = stream.position
            window.append(logs)
            bar.update(logs)
            if step % run.log_every == 0 or step == run.max_steps:
                now = time.time()
                metrics = self._reduce(_mean(window))
                metrics["time/sec_per_step"] = (now - window_started) / len(window)
                window, window_started = [], now
                total = metrics.get("loss/total")
                if total is not None and not math.isfinite(total):
                    raise TrainingDivergedError(
                        f"loss/total is {total} at step {step}; lower optim.lr, enable optim.grad_clip or use "
                        "train.mixed_precision=bf16, then resume from the last checkpoint"
                    )
                writer.write(step, metrics)
                last_metrics = metrics
            if run.sample_every and step % run.sample_every == 0:
                self._samples(sample_batch, step, writer)
            out_of_time = self._minutes_passed(started, run.max_minutes)
            if ((run.save_every and step % run.save_every == 0) or step == run.max_steps or out_of_time
                    or self._minutes_passed(last_saved, run.save_every_minutes)):
                last_checkpoint = self._save(checkpoints, step, self.elapsed_before + time.time() - started)
                last_saved = time.time()
            if out_of_time:
                logger.info("train.max_minutes=%s spent at step %d: saved, stopping", run.max_minutes, step)
                break
        bar.close()
        wall = time.time() - started
        export_dir = self._export()
        summary = RunSummary(
            run_dir=str(self.run_dir), start_step=start_step, final_step=step, steps_this_run=step - start_step,
            wall_time_s=wall, sec_per_step=wall / max(1, step - start_step), total_elapsed_s=self.elapsed_before + wall,
            final_metrics=last_metrics, skipped_files=_skipped_files(self.train_dataset),
            checkpoint=str(last_checkpoint) if last_checkpoint else None,
            export_dir=str(export_dir) if export_dir else None, effective=effective,
        )
        if acc.is_main_process:
            write_json(self.run_dir / "summary.json", asdict(summary))
            logger.info("trained steps %d..%d in %.1f s (%.3f s/step); summary in %s", start_step, step, wall,
                        summary.sec_per_step, self.run_dir / "summary.json")
        writer.close()
        if file_log is not None:
            logging.getLogger("reducio").removeHandler(file_log)
            file_log.close()
        acc.wait_for_everyone()
        return summary

    # ------------------------------------------------------------------ helpers
    def _minutes_passed(self, since: float, minutes: float | None) -> bool:
        """True once `minutes` (None: never) have passed since `since` (every process agrees):
        train.max_minutes of this invocation, train.save_every_minutes since the last checkpoint."""
        if minutes is None:
            return False
        spent = (time.time() - since) >= 60.0 * minutes
        acc = self.accelerator
        if acc.num_processes > 1:  # one decision for all ranks: stop once any rank's clock says so
            flag = torch.tensor([1.0 if spent else 0.0], device=acc.device)
            spent = bool(acc.reduce(flag, reduction="sum").item() > 0)
        return spent

    def _reduce(self, metrics: dict[str, float]) -> dict[str, float]:
        acc = self.accelerator
        if acc.num_processes == 1 or not metrics:
            return metrics
        keys = sorted(metrics)
        values = torch.tensor([metrics[k] for k in keys], device=acc.device, dtype=torch.float64)
        values = acc.reduce(values, reduction="mean")
        return dict(zip(keys, values.tolist()))

    def _export(self) -> Path | None:
        acc = self.accelerator
        directory = self.run_dir / "final"
        acc.wait_for_everyone()
        target = self.objective.ema_target()
        swap = self.ema.swapped_into(target) if self.ema is not None and target is not None else nullcontext()
        models = {name: acc.unwrap_model(model) for name, model in self.objective.models().items()}
        if any(is_sharded(model) for model in models.values()):
            # every process swaps the EMA shards in and gathers; the main process writes the whole model
            with swap:
                states = {name: full_state_dict(model) for name, model in models.items()}
            if acc.is_main_process:
                self.objective.export(directory, states=states)
        elif acc.is_main_process:
            with swap:
                self.objective.export(directory)
        acc.wait_for_everyone()
        return directory if directory.exists() else None

    def _attach_file_log(self) -> logging.Handler:
        handler = logging.FileHandler(self.run_dir / "train.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("reducio").addHandler(handler)
        return handler


def _mean(records: list[dict[str, float]]) -> dict[str, float]:
    keys = {k for record in records for k in record}
    return {k: sum(r[k] for r in records if k in r) / sum(1 for r in records if k in r) for k in sorted(keys)}


def _skipped_files(dataset: Dataset) -> Any:
    """The dataset's report of unreadable files, when it keeps one."""
    for name in ("skip_summary", "skipped_summary", "skipped"):
        value = getattr(dataset, name, None)
        if value is None:
            continue
        value = value() if callable(value) else value
        return value if isinstance(value, (dict, list, str, int)) else str(value)
    return None
