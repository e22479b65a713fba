"""Quick recipe probes for the tiny VAE on the shapes world (what docs/train-vae.md's recipe table
comes from). Not the trainer: a bare loop (MSE on the posterior mode, Adam betas 0.9/0.99, grad
clip 1.0, 100 warm-up steps, batch BS) that logs PSNR and latent-swap PSNR on 16 val clips every
200 steps to runs/probe/NAME.log and saves runs/probe/NAME.pt.

    OMP_NUM_THREADS=1 python scripts/experiments/vae_recipe_probe.py NAME VARIANT STEPS LR [BS]

VARIANT: "middle", "none" or "skip" (content_skip), or "dropP" (content dropout P), then "+"-joined
extras: "skip", "res" (encoder_residual), "cK" (decoder_coords K), "gN" (GroupNorm groups N).
The shipped interim built-in came from `... skipresc4 skip+res+c4 6000 5e-4`.
"""
import os
import sys, time, json, math, torch, torch.nn.functional as F
from reducio.models.vae import ReducioVAE
from reducio.models.vae import VAEConfig
from reducio.data.synthetic.world import ShapesDataset
torch.set_num_threads(1)
name = sys.argv[1]; variant = sys.argv[2]; steps = int(sys.argv[3]); lr = float(sys.argv[4])
bs = int(sys.argv[5]) if len(sys.argv) > 5 else 2
torch.manual_seed(0)
over = {}
parts = variant.split("+")
variant = parts[0]
for extra in parts[1:]:
    if extra.startswith("c"): over["decoder_coords"] = int(extra[1:])
    if extra == "res": over["encoder_residual"] = True
    if extra.startswith("g"):
        import reducio.models.vae.blocks as _b; _b.GROUPNORM_GROUPS = int(extra[1:])
if variant == "none": over["content_frame"] = "none"
if variant == "skip" or "skip" in parts: over["content_skip"] = True
if "skip" in parts and any(p.startswith("drop") for p in parts): variant = [p for p in parts if p.startswith("drop")][0]
cfg = VAEConfig.preset("tiny").replace(**over)
m = ReducioVAE(cfg)
ds = ShapesDataset("train", length=100000)
val = torch.stack([ShapesDataset("val", length=16)[i]["video"] for i in range(16)])
opt = torch.optim.Adam(m.parameters(), lr, betas=(0.9, 0.99))
def psnr(a, b):
    mse = ((a.clamp(-1,1)-b)/2).pow(2).mean(dim=(1,3,4))
    return (10*torch.log10(1/(mse+1e-8))).mean().item()
@torch.no_grad()
def evaluate():
    m.eval(); outs=[]; swaps=[]
    for chunk in val.split(8):
        z = m.normalize_latent(m.encode(chunk).latent_dist.mode())
        c = None if not cfg.has_content else chunk[:, :, 7]
        outs.append(m.decode(z, c).sample)
        swaps.append(m.decode(z.roll(1, 0), c).sample)
    m.train()
    return psnr(torch.cat(outs), val), psnr(torch.cat(swaps), val)
os.makedirs("runs/probe", exist_ok=True)
log = open(f"runs/probe/{name}.log", "a")
t0 = time.time(); k = 0
for step in range(1, steps+1):
    x = torch.stack([ds[(k+i) % len(ds)]["video"] for i in range(bs)]); k += bs
    if variant.startswith("drop"):
        from reducio.models.vae.outputs import ContentFeatures
        p = float(variant[4:] or 0.5)
        keep = (torch.rand(bs) >= p).float()
        f = m.encode_content(x[:, :, 7])
        maps = tuple(t * keep.view(-1, 1, 1, 1) for t in f.maps)
        image = f.image * keep.view(-1, 1, 1, 1) if cfg.content_skip else f.image
        f = ContentFeatures(grid=((maps,),), tiled=False, image_size=f.image_size, image=image)
        z = m.normalize_latent(m.encode(x).latent_dist.mode())  # middle frame residual
        rec = m.decode(z, f).sample
    else:
        out = m(x)
        rec = out.sample
    loss = F.mse_loss(rec, x)
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    for g in opt.param_groups: g["lr"] = lr * min(1, step/100)
    opt.step()
    if step % 20 == 0:
        print(json.dumps({"step": step, "loss": loss.item(), "t": round(time.time()-t0)}), file=log, flush=True)
    if step % 200 == 0:
        p, s = evaluate()
        print(json.dumps({"step": step, "psnr": p, "swap": s, "t": round(time.time()-t0)}), file=log, flush=True)
        torch.save(m.state_dict(), f"runs/probe/{name}.pt")
torch.save(m.state_dict(), f"runs/probe/{name}.pt")
