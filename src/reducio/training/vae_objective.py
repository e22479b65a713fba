"""The Reducio-VAE objective: the release's loss and its two-optimiser manual stepping (docs/architecture.md §4.1, §4.3).

Per iteration: forward once; generator update on
    rec_weight * mean(|x - x_hat| + 0.1 * LPIPS_frame) + 1e-6 * KL + d_w * disc_factor * g_loss + penalty
then discriminator update on the hinge loss of D(x) and D(x_hat.detach()); then both LR schedulers.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from reducio.training.config import VAETrainConfig
from reducio.training.discriminator import NLayerDiscriminator3D
from reducio.training.objective import Objective, Samples
from reducio.training.schedules import Constant, LambdaLinearScheduler, WarmupLR, lambda_scheduler
from reducio.training.vae_losses import (
    D_LOSSES,
    adaptive_weight,
    disc_active,
    kl_loss,
    outlier_penalty,
    perceptual_per_frame,
    reconstruction_error,
    ssim_loss,
    window_content_frames,
)
from reducio.training.vae_model import build_vae, freeze_parameters, load_lpips

logger = logging.getLogger(__name__)


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No parameter gradients for `module` inside (Lightning's toggle_optimizer for the generator step)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def psnr_per_frame(target: torch.Tensor, recon: torch.Tensor) -> float:
    """Mean over frames of -10 log10(MSE + 1e-8) on [0, 1] images (the release's compute_psnr)."""
    mse = ((target.clamp(-1, 1) - recon.clamp(-1, 1)) / 2).square().mean(dim=(1, 3, 4))  # B T
    return float((-10 * torch.log10(mse + 1e-8)).mean())


def vae_window(vae: nn.Module, video: torch.Tensor) -> int:
    """Frames per window of `vae` (`ReducioVAE.num_frames`); a stand-in module without windows
    reads the whole clip (B 3 T H W) as one window."""
    return int(getattr(vae, "num_frames", None) or video.shape[2])


class VAEObjective(Objective):
    """Trains a ReducioVAE (or any module with the same forward contract) with the release's losses.

    Args:
        config: the run's VAETrainConfig.
        vae: the model to train (default: built from `config.model`, see vae_task.build_vae).
        lpips: a perceptual module `lpips(x, y) -> per-image distance` (default: loaded from
            `config.loss.lpips_weights`; without weights the perceptual term is off and says so).
    """

    find_unused_parameters = True  # the 2D encoder's mid.block_2 / norm_out outputs are discarded (docs/architecture.md §2.3)

    def __init__(self, config: VAETrainConfig, *, vae: nn.Module | None = None, lpips: nn.Module | None = None) -> None:
        self.config = config
        self._vae = vae
        self._lpips = lpips
        self._notes: dict[str, Any] = {}

    # ------------------------------------------------------------------ setup
    def setup(self, accelerator) -> None:
        cfg, loss, optim = self.config, self.config.loss, self.config.optim
        self.accelerator = accelerator
        vae = self._vae if self._vae is not None else build_vae(cfg.model)
        if cfg.train.gradient_checkpointing:
            if hasattr(vae, "enable_gradient_checkpointing"):
                vae.enable_gradient_checkpointing()
            else:
                logger.warning("train.gradient_checkpointing is on but %s has no enable_gradient_checkpointing()",
                               type(vae).__name__)
        vae.train()
        freeze_parameters(vae, cfg.model.freeze)

        self.perceptual_weight = loss.perceptual_weight
        self.lpips = None
        if loss.perceptual_weight > 0:
            self.lpips = self._lpips if self._lpips is not None else load_lpips(loss.lpips_weights, loss.lpips_backbone)
            if self.lpips is None:
                self.perceptual_weight = 0.0
                logger.warning(
                    "\n%s\nLPIPS IS OFF: loss.perceptual_weight=%g but loss.lpips_weights is not set, so this run "
                    "trains WITHOUT the perceptual term (recorded as perceptual_weight_effective: 0 in config.json).\n"
                    "Pass --set loss.lpips_weights=/path/to/lpips-vgg to train the release's loss.\n%s",
                    "=" * 78, loss.perceptual_weight, "=" * 78,
                )
            else:
                self.lpips = self.lpips.to(accelerator.device).eval().requires_grad_(False)

        self.ae_params = [p for p in vae.parameters() if p.requires_grad]
        opt_ae = torch.optim.Adam(self.ae_params, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay)
        if loss.disc_enabled:
            disc = NLayerDiscriminator3D(3, loss.disc_channels, loss.disc_layers).train()
            opt_d = torch.optim.Adam(disc.parameters(), lr=optim.disc_lr_scale * optim.lr, betas=optim.disc_betas)
            self.vae, self.opt_ae, self.disc, self.opt_d = accelerator.prepare(vae, opt_ae, disc, opt_d)
            self.disc_params = list(accelerator.unwrap_model(self.disc).parameters())
        else:
            self.vae, self.opt_ae = accelerator.prepare(vae, opt_ae)
            self.disc, self.opt_d, self.disc_params = None, None, []

        # Schedulers wrap the plain optimisers and are stepped once per iteration by us (accelerate
        # would step a prepared scheduler once per process).
        ae_lambda = (LambdaLinearScheduler(warm_up_steps=optim.warm_up_steps, cycle_length=optim.cycle_length,
                                           f_start=optim.f_start, f_max=optim.f_max, f_min=optim.f_min)
                     if optim.scheduler == "lambda_linear" else Constant())
        self._schedulers = {"ae": lambda_scheduler(self.opt_ae.optimizer, ae_lambda)}
        if self.opt_d is not None:
            d_lambda = (WarmupLR(warmup_factor=optim.disc_warmup_factor, warmup_start_iters=optim.disc_warmup_start,
                                 warmup_iters=optim.disc_warmup_iters)
                        if optim.disc_scheduler == "warmup" else Constant())
            self._schedulers["disc"] = lambda_scheduler(self.opt_d.optimizer, d_lambda)

    def models(self) -> dict[str, nn.Module]:
        return {"vae": self.vae} if self.disc is None else {"vae": self.vae, "discriminator": self.disc}

    def optimizers(self) -> dict[str, Any]:
        return {"ae": self.opt_ae} if self.opt_d is None else {"ae": self.opt_ae, "disc": self.opt_d}

    def schedulers(self) -> dict[str, Any]:
        return self._schedulers

    def ema_target(self) -> nn.Module:
        return self.accelerator.unwrap_model(self.vae)

    def effective(self) -> dict[str, Any]:
        loss = self.config.loss
        vae = self.accelerator.unwrap_model(self.vae)
        start = loss.disc_start
        first_g = math.ceil(start / 2) if loss.disc_start_unit == "lightning_global_step" else start
        notes: dict[str, Any] = {
            "perceptual_weight_effective": self.perceptual_weight,
            "perceptual": (f"LPIPS per frame from {loss.lpips_weights}" if self.lpips is not None and loss.lpips_weights
                           else "LPIPS module given by the caller" if self.lpips is not None
                           else "off (no loss.lpips_weights)" if loss.perceptual_weight > 0 else "off (weight 0)"),
            "discriminator": "off" if not loss.disc_enabled else
            f"3D PatchGAN; generator term from iteration {first_g}, discriminator from iteration "
            f"{math.ceil((start - 1) / 2) if loss.disc_start_unit == 'lightning_global_step' else start}",
            "vae_parameters": sum(p.numel() for p in vae.parameters()),
        }
        if hasattr(vae, "arch"):
            notes["vae_config"] = vae.arch.to_dict()
        return notes

    # ------------------------------------------------------------------ one iteration
    def training_step(self, batch: Any, step: int) -> dict[str, float]:
        acc, loss, optim = self.accelerator, self.config.loss, self.config.optim
        video = batch["video"].to(acc.device, non_blocking=True)  # B 3 T H W in [-1, 1]
        lrs = {f"lr/{name}": s.get_last_lr()[0] for name, s in self._schedulers.items()}

        # ---- generator (optimizer 0)
        extra = {}
        if loss.content_dropout > 0:  # global torch RNG: saved and restored with the checkpoint
            keep = torch.rand(video.shape[0]) >= loss.content_dropout
            extra["content_keep"] = keep.to(acc.device, video.dtype)
        out = self.vae(video, sample_posterior=loss.sample_posterior, **extra)
        recon = out.sample.float()  # B 3 T H W, unbounded
        window = vae_window(acc.unwrap_model(self.vae), video)
        rec = reconstruction_error(video, recon, loss.rec_loss, loss.motion_weight, window=window)
        terms: dict[str, torch.Tensor] = {"loss/rec": (video - recon).abs().mean().detach()}
        if self.lpips is not None:
            p_loss = perceptual_per_frame(self.lpips, video, recon) * self.perceptual_weight  # B 1 T 1 1
            rec = rec + p_loss
            terms["loss/perceptual"] = p_loss.mean().detach()
        nll = rec.mean()  # the release's rec / exp(logvar) + logvar with logvar fixed at 0
        penalty = outlier_penalty(recon, loss.penalty_radius) * loss.penalty_weight
        kl = kl_loss(out.latent_dist)
        total = loss.rec_weight * nll + loss.kl_weight * kl + penalty
        terms.update({"loss/nll": nll.detach(), "loss/kl": kl.detach(), "loss/penalty": penalty.detach()})
        if loss.ssim_weight > 0:
            structural = ssim_loss(video, recon)
            total = total + loss.ssim_weight * structural
            terms["loss/ssim"] = structural.detach()
        if self.disc is not None:
            disc = acc.unwrap_model(self.disc)  # not through DDP: this pass only feeds the generator
            with frozen(disc):
                g_loss = -disc(recon).float().mean()
            if loss.adaptive_disc_weight:
                last_layer = acc.unwrap_model(self.vae).decoder.conv_out.weight
                d_weight = adaptive_weight(nll, g_loss, last_layer, loss.disc_weight)
            else:
                d_weight = torch.tensor(loss.disc_weight, device=acc.device)
            factor = loss.disc_factor if disc_active(step, loss.disc_start, loss.disc_start_unit, discriminator=False) else 0.0
            total = total + d_weight * factor * g_loss
            terms.update({"loss/g": g_loss.detach(), "disc/d_weight": d_weight.detach(),
                          "disc/factor": torch.tensor(float(factor), device=acc.device)})
        terms["loss/total"] = total.detach()
        acc.backward(total)
        if acc.sync_gradients and optim.grad_clip is not None:
            acc.clip_grad_norm_(self.ae_params, optim.grad_clip)
        self.opt_ae.step()
        self.opt_ae.zero_grad(set_to_none=True)

        # ---- discriminator (optimizer 1), on the same forward's detached reconstruction
        if self.disc is not None:
            factor_d = loss.disc_factor if disc_active(step, loss.disc_start, loss.disc_start_unit, discriminator=True) else 0.0
            logits_real = self.disc(video.detach()).float()
            logits_fake = self.disc(recon.detach()).float()
            d_loss = factor_d * D_LOSSES[loss.disc_loss](logits_real, logits_fake)
            acc.backward(d_loss)
            if acc.sync_gradients and optim.disc_grad_clip is not None:
                acc.clip_grad_norm_(self.disc_params, optim.disc_grad_clip)
            self.opt_d.step()
            self.opt_d.zero_grad(set_to_none=True)
            terms.update({"loss/disc": d_loss.detach(), "disc/logits_real": logits_real.mean().detach(),
                          "disc/logits_fake": logits_fake.mean().detach()})

        if acc.sync_gradients:
            for scheduler in self._schedulers.values():
                scheduler.step()
        keys = list(terms)
        values = torch.stack([terms[k].float().reshape(()) for k in keys]).tolist()  # one device sync
        return {**dict(zip(keys, values)), **lrs}

    # ------------------------------------------------------------------ samples / export
    @torch.no_grad()
    def sample(self, batch: Any, step: int) -> Samples:
        acc = self.accelerator
        vae = acc.unwrap_model(self.vae)
        was_training = vae.training
        vae.eval()
        video = batch["video"].to(acc.device)  # B 3 T H W
        with acc.autocast():
            # The posterior mode: deterministic samples that draw nothing from the RNG.
            recon = vae(video, sample_posterior=False).sample.float().clamp(-1, 1)
        vae.train(was_training)
        content = window_content_frames(video, vae_window(vae, video))  # B 3 T H W
        return Samples(
            videos={"input": video.cpu(), "reconstruction": recon.cpu()},
            metrics={"psnr": psnr_per_frame(video, recon), "psnr_content_copy": psnr_per_frame(video, content)},
        )

    def export(self, directory: Path) -> None:
        vae = self.accelerator.unwrap_model(self.vae)
        if hasattr(vae, "save_pretrained"):
            vae.save_pretrained(directory)
        else:
            from safetensors.torch import save_file

            Path(directory).mkdir(parents=True, exist_ok=True)
            save_file({k: v.detach().contiguous().cpu() for k, v in vae.state_dict().items()},
                      str(Path(directory) / "model.safetensors"))
