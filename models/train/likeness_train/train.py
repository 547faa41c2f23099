"""Training: the autoencoder, then the MCDM on generated pairs.

Recipe (the paper's, section 3.3): epsilon prediction on SD's scaled-linear
schedule; 5% reconstruction pairs (target = source, prompt p_a); 20% of samples
drop a uniformly chosen non-empty combination of c_s, c_im and c_p (so every
branch of the nested three-way guidance is trained).

Runs on one CPU, or under torchrun with DDP (gloo on CPU, NCCL on CUDA; mixed
precision on CUDA). Budgets are steps and/or minutes; checkpoints are written
atomically and --resume continues exactly (same batches, same weights).
"""
import contextlib
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import data, nets, render
from .core import SUBJECTS, TEMPLATE, atomic_save, betas_scaled_linear, load_ae, log, to_tensor  # noqa: F401 (re-exported)
from .tokenizer import Tokenizer

MIN_SNR_GAMMA = 5.0


def alphas_cumprod():
    return torch.cumprod(1 - betas_scaled_linear(), 0).float()


def _dist():
    """(rank, world, device) and DDP set-up when run under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch.distributed as dist
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        rank = dist.get_rank()
    else:
        rank = 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    return rank, world, dev


def _agree_stop(stop, world, dev):
    """Rank 0's time budget decides for everyone, so ranks stop together."""
    if world == 1:
        return stop
    import torch.distributed as dist
    t = torch.tensor([1.0 if stop else 0.0], device=dev)
    dist.broadcast(t, 0)
    return bool(t.item())


def _lr(step, steps, elapsed, minutes, base, warmup=200):
    """Linear warm-up, then cosine decay over whichever budget runs out first."""
    frac = 0.0
    if steps:
        frac = max(frac, step / steps)
    if minutes:
        frac = max(frac, elapsed / (minutes * 60))
    w = min(1.0, (step + 1) / warmup)
    return base * w * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


# ---------------------------------------------------------------- autoencoder

def psnr(a, b):
    mse = ((a - b) ** 2).mean().item()
    return 10 * math.log10(4.0 / max(mse, 1e-12))  # range [-1,1] has peak-to-peak 2


def train_ae(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = nets.config(args.config)
    size = cfg["resolution"]
    os.makedirs(args.out, exist_ok=True)
    ae = nets.Autoencoder(cfg)
    log(f"autoencoder: encoder {nets.count(ae.encoder)/1e6:.2f} M, decoder {nets.count(ae.decoder)/1e6:.2f} M parameters")
    sets = [data.RenderSet(t, data.TRAIN_SEED, args.identities, size) for t in args.tasks]
    imgs = np.concatenate([s.images.reshape(-1, size, size, 3) for s in sets])
    held = np.concatenate([data.RenderSet(t, data.VAL_SEED, 16, size).images.reshape(-1, size, size, 3)
                           for t in args.tasks])
    log(f"{len(imgs)} training renders, {len(held)} held-out")
    opt = torch.optim.AdamW(ae.parameters(), lr=args.lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(args.seed)
    start, step, crop = time.time(), 0, args.crop
    while True:
        el = time.time() - start
        if (args.steps and step >= args.steps) or (args.minutes and el > args.minutes * 60):
            break
        for pg in opt.param_groups:
            pg["lr"] = _lr(step, args.steps, el, args.minutes, args.lr, warmup=100)
        idx = torch.randint(len(imgs), (args.batch,), generator=g).numpy()
        x = to_tensor(imgs[idx])
        if crop < size:
            oy, ox = (torch.randint((size - crop) // 8 + 1, (2,), generator=g) * 8).tolist()
            x = x[:, :, oy:oy + crop, ox:ox + crop]
        z = ae.encoder(x)
        zn = z + 0.03 * z.detach().std() * torch.randn(z.shape, generator=g)
        y = ae.decoder(zn)
        loss = (y - x).abs().mean() + ((y - x) ** 2).mean() + 1e-4 * (z ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log(f"ae step {step} loss {loss.item():.4f} {step / (time.time() - start):.2f} steps/s")
    ae.eval()
    with torch.no_grad():
        zs, ps = [], []
        for i in range(0, len(held), 32):
            x = to_tensor(held[i:i + 32])
            z = ae.encoder(x)
            zs.append(z)
            ps.append(((ae.decoder(z).clamp(-1, 1) - x) ** 2).mean(dim=(1, 2, 3)))
        z = torch.cat(zs)
        mse = torch.cat(ps)
        scale = 1.0 / z.std().item()
    held_psnr = float((10 * torch.log10(4.0 / mse)).mean())
    log(f"autoencoder: held-out PSNR {held_psnr:.2f} dB (mean over {len(held)} renders), latent scale {scale:.4f}")
    atomic_save({"config": cfg, "state": ae.state_dict(), "scale": scale, "psnr": held_psnr,
                 "steps": step}, os.path.join(args.out, "ae.pt"))
    return held_psnr


# ---------------------------------------------------------------- MCDM

class PromptTable:
    """Token ids for every prompt the trainer uses, and the empty prompt."""

    def __init__(self, task, tok=None, texts=None):
        tok = tok or Tokenizer()
        if texts is None:
            spec = render.TASKS[task]
            texts = [spec["prompt_source"]] + [spec["prompts"][d] for d in spec["directions"]]
        self.texts = list(texts)
        self.ids = torch.tensor([[tok(TEMPLATE.format(subject=s, text=t)) for t in self.texts]
                                 for s in SUBJECTS], dtype=torch.long)   # [S, 1+dirs, 77]
        self.null = torch.tensor(tok(""), dtype=torch.long)
        self.check_buckets(tok)

    def check_buckets(self, tok, buckets=None):
        self._tok = tok

    def assert_no_collisions(self, buckets):
        used = sorted({int(i) for i in self.ids.flatten().tolist()} | set(self.null.tolist()))
        seen = {}
        for i in used:
            b = i % buckets
            if b in seen and seen[b] != i:
                raise ValueError(f"token ids {seen[b]} and {i} share hash bucket {b} of {buckets}")
            seen[b] = i


def pooled_pixels(u8):
    """The image encoder's input after its own 7x7 pooling: CLIP preprocessing
    (bicubic to 224, CLIP mean/std), then 224 -> 32 average pooling."""
    x = torch.from_numpy(u8).float().movedim(-1, -3) / 255.0
    x = F.interpolate(x, size=(224, 224), mode="bicubic", align_corners=False).clamp(0, 1)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])[:, None, None]
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
    return F.avg_pool2d((x - mean) / std, 7)


class LatentSet:
    """Encoded renders: lat[i, 0] source latent, lat[i, 1 + k] direction k
    (scaled by the autoencoder's scale), px[i] pooled CLIP pixels of the source."""

    def __init__(self, task, seed, n, ae, scale, size, batch=64):
        rs = data.RenderSet(task, seed, n, size, progress=lambda a, b: log(f"rendered {a}/{b}"))
        self.images = rs.images
        self.directions = rs.directions
        k = rs.images.shape[1]
        lats, pxs = [], []
        with torch.no_grad():
            flat = rs.images.reshape(-1, size, size, 3)
            for i in range(0, len(flat), batch):
                lats.append(ae.encoder(to_tensor(flat[i:i + batch])) * scale)
            for i in range(0, n, batch):
                pxs.append(pooled_pixels(rs.images[i:i + batch, 0]))
            self.black = ae.encoder(-torch.ones(1, 3, size, size)) * scale
        lat = torch.cat(lats)
        self.lat = lat.reshape(n, k, *lat.shape[1:])
        self.px = torch.cat(pxs)


def pair_texts(rec, where):
    """(source text, target text) of a pairs-folder record: its "source_text"
    and "target_text" (`likeness pairs` writes them), else its task's prompts
    (folders `likeness_train pairs` wrote)."""
    if rec.get("target_text"):
        return rec.get("source_text") or "", rec["target_text"]
    spec = render.TASKS.get(rec.get("task"))
    if spec and rec.get("direction") in spec["prompts"]:
        return spec["prompt_source"], spec["prompts"][rec["direction"]]
    raise ValueError(f"{where}: no \"target_text\", and task {rec.get('task')!r} direction "
                     f"{rec.get('direction')!r} names no known prompt")


class PairsLatentSet:
    """A pairs folder (index.jsonl; `likeness pairs` or `likeness_train pairs`)
    encoded like LatentSet, one entry per pair: lat[i, 0] the source latent,
    lat[i, 1] the target's, px[i] the source's pooled CLIP pixels, and
    prompt_index[i] the rows of `texts` holding the pair's source and target
    texts. `spec` describes the directions for export, as render.TASKS does."""

    def __init__(self, folder, ae, scale, size, batch=64):
        recs = data.read_pairs(folder)
        if not recs:
            raise ValueError(f"{os.path.join(folder, 'index.jsonl')} holds no pairs")
        self.texts, self.directions, pairs = [], [], []
        spec = {"prompts": {}, "labels": {}, "directions": [], "folder": os.path.abspath(folder)}
        sources = {}
        for n, rec in enumerate(recs, 1):
            src, tgt = pair_texts(rec, f"{os.path.join(folder, 'index.jsonl')}:{n}")
            for t in (src, tgt):
                if t not in self.texts:
                    self.texts.append(t)
            d = rec.get("direction") or tgt
            if d not in spec["prompts"]:
                spec["directions"].append(d)
                spec["prompts"][d], spec["labels"][d] = tgt, tgt[:1].upper() + tgt[1:]
            sources[src] = sources.get(src, 0) + 1
            pairs.append((rec, self.texts.index(src), self.texts.index(tgt)))
        spec["prompt_source"] = max(sources, key=sources.get)
        spec["source"] = spec["prompt_source"]
        self.spec, self.directions = spec, spec["directions"]
        self.prompt_index = torch.tensor([[a, b] for _, a, b in pairs], dtype=torch.long)
        self.images = np.stack([np.stack([data.load_rgb(r["source"], size), data.load_rgb(r["target"], size)])
                                for r, _, _ in pairs])                       # [n, 2, H, W, 3]
        lats, pxs = [], []
        with torch.no_grad():
            flat = self.images.reshape(-1, size, size, 3)
            for i in range(0, len(flat), batch):
                lats.append(ae.encoder(to_tensor(flat[i:i + batch])) * scale)
            for i in range(0, len(pairs), batch):
                pxs.append(pooled_pixels(self.images[i:i + batch, 0]))
            self.black = ae.encoder(-torch.ones(1, 3, size, size)) * scale
        lat = torch.cat(lats)
        self.lat = lat.reshape(len(pairs), 2, *lat.shape[1:])
        self.px = torch.cat(pxs)


class EMA:
    def __init__(self, model):
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model, step):
        d = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            for k, v in model.state_dict().items():
                if v.dtype.is_floating_point:
                    self.shadow[k].mul_(d).add_(v.detach(), alpha=1 - d)
                else:
                    self.shadow[k].copy_(v)


def make_batch(ds, prompts, g, batch, p_recon=0.05, p_drop=0.2):
    n, k = ds.lat.shape[0], ds.lat.shape[1] - 1
    i = torch.randint(n, (batch,), generator=g)
    d = torch.randint(k, (batch,), generator=g) + 1
    s = torch.randint(len(SUBJECTS), (batch,), generator=g)
    recon = torch.rand(batch, generator=g) < p_recon
    d = torch.where(recon, torch.zeros_like(d), d)
    z0 = ds.lat[i, d]
    cs = ds.lat[i, 0]
    # A pairs folder gives each pair its own prompts; procedural sets use row d.
    pd = d if getattr(ds, "prompt_index", None) is None else ds.prompt_index[i, d]
    ids = prompts.ids[s, pd]
    px = ds.px[i]
    # multi-condition dropout: a non-empty subset (bits: c_s, c_im, c_p)
    drop = torch.rand(batch, generator=g) < p_drop
    combo = torch.randint(1, 8, (batch,), generator=g) * drop
    drop_s, drop_im, drop_p = (combo & 1) > 0, (combo & 2) > 0, (combo & 4) > 0
    t = torch.randint(1000, (batch,), generator=g)
    noise = torch.randn(z0.shape, generator=g)
    return dict(z0=z0, cs=cs, ids=ids, px=px, drop_s=drop_s, drop_im=drop_im, drop_p=drop_p,
                t=t, noise=noise)


def forward_loss(model, b, black, null_ids, acp):
    m = model.module if hasattr(model, "module") else model
    a = acp[b["t"]].view(-1, 1, 1, 1)
    zt = a.sqrt() * b["z0"] + (1 - a).sqrt() * b["noise"]
    cs_in = torch.where(b["drop_s"].view(-1, 1, 1, 1), black.expand_as(b["cs"]), b["cs"])
    ids = torch.where(b["drop_p"].view(-1, 1), null_ids.view(1, -1).expand_as(b["ids"]), b["ids"])
    text = m.text_encoder(ids)
    tok = m.image_projector(b["cs"], m.image_encoder.forward_pooled(b["px"]))
    tok = tok * (~b["drop_im"]).float().view(-1, 1, 1)
    eps = model(torch.cat([zt, cs_in], 1), b["t"], torch.cat([text, tok], 1))
    if not m.mcdm.unet.source_residual:
        return F.mse_loss(eps.float(), b["noise"])
    # A source-residual UNet predicts x0, so the epsilon error at timestep t
    # is sqrt(SNR) times its x0 error and near t = 0 a tiny x0 error would
    # dominate the loss. Min-SNR-5 weighting (Hang et al. 2023) caps the x0
    # weight at 5.
    w = torch.clamp(MIN_SNR_GAMMA * (1 - a) / a, max=1.0)
    return (w * (eps.float() - b["noise"]) ** 2).mean()


class _Wrap(torch.nn.Module):
    """DDP wants one forward: the UNet's, with the condition networks as
    submodules so their gradients are reduced too."""

    def __init__(self, mcdm):
        super().__init__()
        self.mcdm = mcdm
        self.text_encoder, self.image_encoder = mcdm.text_encoder, mcdm.image_encoder
        self.image_projector = mcdm.image_projector

    def forward(self, sample, t, ctx):
        return self.mcdm.unet(sample, t, ctx)


def train(args):
    rank, world, dev = _dist()
    torch.set_num_threads(args.threads)
    ae, scale, aeck = load_ae(args.ae)
    cfg = nets.config(args.config, **{k: v for k, v in aeck["config"].items()
                                      if k.startswith("ae_") or k in ("resolution", "latent_factor")})
    size = cfg["resolution"]
    os.makedirs(args.out, exist_ok=True)
    ck_path = os.path.join(args.out, "ckpt.pt")
    torch.manual_seed(args.seed)
    mcdm = nets.MCDM(cfg)
    init_pack = getattr(args, "init_from_pack", None)
    if init_pack and not (args.resume and os.path.exists(ck_path)):
        from . import frompack
        mcdm, pack_scale = frompack.mcdm_from_pack(init_pack, cfg)
        if abs(pack_scale - scale) > 1e-5 * abs(scale):
            raise ValueError(f"{init_pack}: latent scale {pack_scale} is not the autoencoder's {scale} "
                             f"({args.ae}): the pack was trained in another latent space")
        mcdm.train()
        if rank == 0:
            log(f"MCDM initialised from the pack {init_pack}")
    if getattr(args, "init_unet", None):
        nets.load_diffusers_unet(mcdm.unet, args.init_unet)
        if rank == 0:
            log(f"UNet initialised from {args.init_unet}")
    pairs = getattr(args, "pairs", None)
    if pairs:  # a pairs folder instead of procedural renders
        ds = PairsLatentSet(pairs, ae, scale, size)
        prompts = PromptTable(None, texts=ds.texts)
        if rank == 0:
            log(f"{len(ds.lat)} pairs from {pairs}: directions {ds.directions}")
    else:
        prompts = PromptTable(args.task)
    prompts.assert_no_collisions(cfg["text_buckets"])
    if rank == 0:
        log(f"MCDM {args.config}: UNet {nets.count(mcdm.unet)/1e6:.2f} M, text {nets.count(mcdm.text_encoder)/1e6:.2f} M, "
            f"image {nets.count(mcdm.image_encoder)/1e6:.2f} M, projector {nets.count(mcdm.image_projector)/1e6:.2f} M")
    if not pairs:
        # Rendering and encoding 1,500 identities takes a quarter of an hour on
        # one CPU thread: keep the encoded set beside the checkpoint so --resume
        # skips it.
        cache = os.path.join(args.out, f"latents-{args.task}-{args.identities}.pt")
        if os.path.exists(cache) and torch.load(cache, map_location="cpu")["scale"] == scale:
            ds = LatentSet.__new__(LatentSet)
            ds.__dict__.update(torch.load(cache, map_location="cpu")["set"])
        else:
            ds = LatentSet(args.task, data.TRAIN_SEED, args.identities, ae, scale, size)
            ds.images = None
            if rank == 0:
                atomic_save({"scale": scale, "set": dict(ds.__dict__)}, cache)
    ema = EMA(mcdm)
    opt = torch.optim.AdamW(mcdm.parameters(), lr=args.lr, weight_decay=0.01)
    g = torch.Generator()
    step, elapsed0 = 0, 0.0
    if args.resume and os.path.exists(ck_path):
        ck = torch.load(ck_path, map_location="cpu")
        mcdm.load_state_dict(ck["model"])
        ema.shadow = ck["ema"]
        opt.load_state_dict(ck["opt"])
        step, elapsed0 = ck["step"], ck["elapsed"]
        if rank == 0:
            log(f"resumed at step {step}")
    mcdm.to(dev)
    model = plain = _Wrap(mcdm)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    acp = alphas_cumprod().to(dev)
    black, null_ids = ds.black.to(dev), prompts.null.to(dev)
    amp = dev.type == "cuda"
    start = time.time()
    last_ck = time.time()
    losses = []
    logf = open(os.path.join(args.out, "log.jsonl"), "a") if rank == 0 else None
    # One fixed batch (its own seed, fixed timesteps and noise) scored at every
    # log line: a loss curve without the noise of each step's random
    # timesteps. A source-residual UNet starts near its floor (x0 = c_s is
    # already close), so only this curve shows reliably whether it learns.
    fixed = None
    if rank == 0 and args.fixed_batch > 0:
        fg = torch.Generator().manual_seed(args.seed * 1_000_003 + 424_242)
        fixed = {k: v.to(dev) for k, v in make_batch(ds, prompts, fg, args.fixed_batch).items()}
        if step == 0:
            with torch.no_grad():
                logf.write(json.dumps({"step": 0, "fixed_loss": float(forward_loss(plain, fixed, black, null_ids,
                                                                                   acp))}) + "\n")
    while True:
        el = elapsed0 + time.time() - start
        stop = (args.steps and step >= args.steps) or (args.minutes and el > args.minutes * 60)
        stop = stop or (args.stop_after and step >= args.stop_after)
        if _agree_stop(stop, world, dev):
            break
        for pg in opt.param_groups:
            pg["lr"] = _lr(step, args.steps, el, args.minutes, args.lr)
        # Each step's batch depends only on (seed, rank, step): resume is exact
        # on any number of ranks without saving generator states.
        g.manual_seed((args.seed * 1_000_003 + rank * 7919 + step) % (2 ** 63))
        b = {k: v.to(dev) for k, v in make_batch(ds, prompts, g, args.batch).items()}
        with (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()):
            loss = forward_loss(model, b, black, null_ids, acp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(mcdm.parameters(), 1.0)
        opt.step()
        ema.update(mcdm, step)
        step += 1
        losses.append(loss.item())
        if rank == 0 and step % args.log_every == 0:
            el = elapsed0 + time.time() - start
            rate = step / max(el, 1e-9)
            left = []
            if args.steps:
                left.append((args.steps - step) / max(rate, 1e-9))
            if args.minutes:
                left.append(args.minutes * 60 - el)
            eta = min(left) if left else 0
            rec = {"step": step, "loss": float(np.mean(losses[-args.log_every:])),
                   "steps_per_s": rate, "eta_s": eta, "lr": opt.param_groups[0]["lr"]}
            if fixed is not None:
                with torch.no_grad():
                    rec["fixed_loss"] = float(forward_loss(plain, fixed, black, null_ids, acp))
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
            log(f"step {step} loss {rec['loss']:.4f} fixed {rec.get('fixed_loss', float('nan')):.4f} {rate:.2f} steps/s ETA {eta/60:.1f} min")
        if rank == 0 and args.sample_every and not pairs and step % args.sample_every == 0:
            from . import sample
            sample.grid(mcdm, ema.shadow, ae, scale, cfg, args.task, ds.black,
                        os.path.join(args.out, "samples", f"step{step:06d}.png"))
        if rank == 0 and time.time() - last_ck > args.checkpoint_minutes * 60:
            _checkpoint(ck_path, mcdm, ema, opt, step, elapsed0 + time.time() - start, cfg, args, scale, world,
                        getattr(ds, "spec", None))
            last_ck = time.time()
    if args.dump_weights:
        # Tests compare every rank's final weights (DDP keeps them identical).
        atomic_save(mcdm.state_dict(), os.path.join(args.out, f"rank{rank}.pt"))
    if rank == 0:
        _checkpoint(ck_path, mcdm, ema, opt, step, elapsed0 + time.time() - start, cfg, args, scale, world,
                        getattr(ds, "spec", None))
        log(f"done: {step} steps in {(elapsed0 + time.time() - start)/60:.1f} min, "
            f"last loss {np.mean(losses[-50:]) if losses else float('nan'):.4f}")
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    return losses


def _checkpoint(path, mcdm, ema, opt, step, elapsed, cfg, args, scale, world, spec=None):
    ck = {"model": mcdm.state_dict(), "ema": ema.shadow, "opt": opt.state_dict(),
          "step": step, "elapsed": elapsed, "config": cfg,
          "task": args.task, "ae": os.path.abspath(args.ae), "scale": scale,
          "world": world}
    if spec:  # trained on a pairs folder: export takes the directions from here
        ck["task"], ck["spec"] = args.task or "pairs", spec
    atomic_save(ck, path)


def train_decoder(args):
    """Fine-tune the decoder alone on full-size renders, the encoder frozen:
    the latent space the MCDM learns in does not move, so this can run while
    (or after) the MCDM trains (as Stable Diffusion's ft-MSE decoders were)."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    ae, scale, ck = load_ae(args.ae)
    cfg = ck["config"]
    size = cfg["resolution"]
    for p in ae.decoder.parameters():
        p.requires_grad_(True)
    ae.decoder.train()
    sets = [data.RenderSet(t, data.TRAIN_SEED + 17, args.identities, size) for t in args.tasks]
    imgs = np.concatenate([s.images.reshape(-1, size, size, 3) for s in sets])
    held = np.concatenate([data.RenderSet(t, data.VAL_SEED, 16, size).images.reshape(-1, size, size, 3)
                           for t in args.tasks])
    with torch.no_grad():
        lat = torch.cat([ae.encoder(to_tensor(imgs[i:i + 64])) for i in range(0, len(imgs), 64)])
    opt = torch.optim.AdamW(ae.decoder.parameters(), lr=args.lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(args.seed)
    start, step = time.time(), 0
    while True:
        el = time.time() - start
        if (args.steps and step >= args.steps) or (args.minutes and el > args.minutes * 60):
            break
        for pg in opt.param_groups:
            pg["lr"] = _lr(step, args.steps, el, args.minutes, args.lr, warmup=50)
        idx = torch.randint(len(imgs), (args.batch,), generator=g)
        x = to_tensor(imgs[idx.numpy()])
        z = lat[idx]
        z = z + 0.03 * z.std() * torch.randn(z.shape, generator=g)
        y = ae.decoder(z)
        loss = ((y - x) ** 2).mean() + 0.2 * (y - x).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            log(f"decoder step {step} loss {loss.item():.5f} {step / (time.time() - start):.2f} steps/s")
    ae.eval()
    with torch.no_grad():
        mse = torch.cat([((ae.decoder(ae.encoder(to_tensor(held[i:i + 32]))).clamp(-1, 1)
                           - to_tensor(held[i:i + 32])) ** 2).mean(dim=(1, 2, 3)) for i in range(0, len(held), 32)])
    held_psnr = float((10 * torch.log10(4.0 / mse)).mean())
    log(f"decoder fine-tuned: held-out PSNR {ck.get('psnr', float('nan')):.2f} -> {held_psnr:.2f} dB")
    out = dict(ck)
    out.update({"state": ae.state_dict(), "psnr": held_psnr, "decoder_steps": step})
    atomic_save(out, args.out)
    return held_psnr


def ae_from_pack(args):
    """An ae.pt from a pack's vae_encoder/vae_decoder ONNX files (trained by
    likeness_train; float16-stored weights come back as float32), so a new
    MCDM can train in the latent space of a pack that already ships, without
    training the autoencoder again. The latent scale is the manifest's."""
    import onnx
    from onnx import numpy_helper
    man_path = os.path.join(args.pack, "likeness.json")
    with open(man_path) as f:
        man = json.load(f)
    trained = man.get("trained") or {}
    if trained.get("by") != "likeness_train":
        raise ValueError(f"{man_path}: not a pack likeness_train wrote (\"trained.by\" is {trained.get('by')!r})")
    cfg = nets.config(trained.get("config", "tiny"), resolution=man["resolution"],
                      latent_factor=man.get("latent_factor", 8))
    ae = nets.Autoencoder(cfg)
    state = {}
    for part in ("encoder", "decoder"):
        path = os.path.join(args.pack, f"vae_{part}", "model.onnx")
        for t in onnx.load(path).graph.initializer:
            name = t.name[:-len("__fp16")] if t.name.endswith("__fp16") else t.name
            state[f"{part}.{name}"] = torch.from_numpy(numpy_helper.to_array(t).astype(np.float32).copy())
    own = ae.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        raise ValueError(f"{args.pack}: the autoencoder files lack {len(missing)} tensors of config "
                         f"{cfg['name']!r} (first {missing[0]})")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(f"{args.pack}: {k} has shape {tuple(state[k].shape)}, config {cfg['name']!r} wants {tuple(v.shape)}")
    ae.load_state_dict({k: state[k] for k in own})
    ae.eval()
    size = cfg["resolution"]
    held = np.concatenate([data.RenderSet(t, data.VAL_SEED, 16, size).images.reshape(-1, size, size, 3)
                           for t in ("expressions", "costumes")])
    with torch.no_grad():
        mse = torch.cat([((ae.decoder(ae.encoder(to_tensor(held[i:i + 32]))).clamp(-1, 1)
                           - to_tensor(held[i:i + 32])) ** 2).mean(dim=(1, 2, 3)) for i in range(0, len(held), 32)])
    held_psnr = float((10 * torch.log10(4.0 / mse)).mean())
    scale = float(man["spatial_latent_scale"])
    log(f"autoencoder of {args.pack}: held-out PSNR {held_psnr:.2f} dB, latent scale {scale}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_save({"config": cfg, "state": ae.state_dict(), "scale": scale, "psnr": held_psnr,
                 "steps": 0, "from_pack": os.path.abspath(args.pack)}, args.out)
    return held_psnr
