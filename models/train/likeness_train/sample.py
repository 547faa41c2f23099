"""A torch reference sampler for a trained run, written from the model
contract so another implementation (the Go engine) can be compared with it
step for step: nested three-way guidance, the model's own mask (both
normalisations, OpenCV's blur), Eq. 3 with and without the latent blend, and
diffusers' DDIM and UniPC (bh2, order 2) schedulers.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import core, data, render
from .tokenizer import Tokenizer


# ---------------------------------------------------------------- schedulers

def _acp():
    return torch.cumprod(1 - core.betas_scaled_linear(), 0)  # float64


class DDIM:
    """diffusers DDIMScheduler, SD 1.5 config: leading spacing, steps_offset 1,
    set_alpha_to_one False, eta 0."""

    def __init__(self, steps):
        self.acp = _acp()
        self.ratio = 1000 // steps
        self.timesteps = [int(i * self.ratio) + 1 for i in range(steps)][::-1]

    def add_noise(self, x, n, t):
        a = self.acp[t]
        return (a.sqrt() * x.double() + (1 - a).sqrt() * n.double()).float()

    def step(self, eps, t, x):
        prev = t - self.ratio
        a, ap = self.acp[t], (self.acp[prev] if prev >= 0 else self.acp[0])
        x0 = (x - (1 - a).sqrt().float() * eps) / a.sqrt().float()
        return ap.sqrt().float() * x0 + (1 - ap).sqrt().float() * eps


class UniPC:
    """diffusers UniPCMultistepScheduler: bh2, solver_order 2, predict_x0,
    linspace spacing, lower_order_final, final sigma zero."""

    def __init__(self, steps, order=2):
        acp = _acp()
        self.acp = acp
        ts = np.linspace(0, 999, steps + 1).round()[::-1][:-1].copy().astype(np.int64)
        self.timesteps = [int(t) for t in ts]
        sig = ((1 - acp) / acp).sqrt()
        self.sigmas = torch.cat([sig[torch.tensor(ts)], torch.zeros(1, dtype=torch.float64)])
        self.order, self.steps = order, steps
        self.outputs, self.last, self.lower, self.index = [None] * order, None, 0, None
        self.this_order = 1

    @staticmethod
    def _al(sigma):
        alpha = 1 / (sigma ** 2 + 1).sqrt()
        return alpha, sigma * alpha

    def _lam(self, i):
        a, s = self._al(self.sigmas[i])
        return torch.log(a) - torch.log(s)

    def add_noise(self, x, n, t):
        i = self.timesteps.index(t)
        a, s = self._al(self.sigmas[i])
        return (a * x.double() + s * n.double()).float()

    def _coeffs(self, hh, order):
        h_phi_1 = torch.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        fac, B_h = 1, torch.expm1(hh)
        b = []
        for i in range(1, order + 1):
            b.append(h_phi_k * fac / B_h)
            fac *= i + 1
            h_phi_k = h_phi_k / hh - 1 / fac
        return h_phi_1, B_h, torch.stack(b)

    def _predict(self, x, order):
        i = self.index
        m0 = self.outputs[-1]
        a_t, s_t = self._al(self.sigmas[i + 1])
        a_0, s_0 = self._al(self.sigmas[i])
        h = self._lam(i + 1) - self._lam(i)
        rks, D1s = [], []
        for k in range(1, order):
            rk = (self._lam(i - k) - self._lam(i)) / h
            rks.append(rk)
            D1s.append((self.outputs[-(k + 1)] - m0) / rk.float())
        hh = -h
        h_phi_1, B_h, b = self._coeffs(hh, order)
        xt = (s_t / s_0).float() * x - (a_t * h_phi_1).float() * m0
        if D1s:
            rhos = [0.5] if order == 2 else None
            res = sum(float(r) * d for r, d in zip(rhos, D1s))
            xt = xt - (a_t * B_h).float() * res
        return xt

    def _correct(self, model_t, last, this, order):
        i = self.index
        m0 = self.outputs[-1]
        a_t, s_t = self._al(self.sigmas[i])
        a_0, s_0 = self._al(self.sigmas[i - 1])
        h = self._lam(i) - self._lam(i - 1)
        rks, D1s = [], []
        for k in range(1, order):
            rk = (self._lam(i - (k + 1)) - self._lam(i - 1)) / h
            rks.append(rk)
            D1s.append((self.outputs[-(k + 1)] - m0) / rk.float())
        rks.append(torch.tensor(1.0, dtype=torch.float64))
        hh = -h
        h_phi_1, B_h, b = self._coeffs(hh, order)
        R = torch.stack([torch.stack(rks) ** (k - 1) for k in range(1, order + 1)])
        rhos = torch.tensor([0.5], dtype=torch.float64) if order == 1 else torch.linalg.solve(R, b)
        xt = (s_t / s_0).float() * last - (a_t * h_phi_1).float() * m0
        corr = sum(float(r) * d for r, d in zip(rhos[:-1], D1s)) if D1s else 0
        return xt - (a_t * B_h).float() * (corr + float(rhos[-1]) * (model_t - m0))

    def step(self, eps, t, x):
        if self.index is None:
            self.index = self.timesteps.index(t)
        a, s = self._al(self.sigmas[self.index])
        x0 = (x - s.float() * eps) / a.float()
        if self.index > 0 and self.last is not None:
            x = self._correct(x0, self.last, x, self.this_order)
        self.outputs = self.outputs[1:] + [x0]
        order = min(self.order, self.steps - self.index)
        self.this_order = min(order, self.lower + 1)
        self.last = x
        out = self._predict(x, self.this_order)
        self.lower = min(self.lower + 1, self.order)
        self.index += 1
        return out


SCHEDULERS = {"ddim": DDIM, "unipc": UniPC}


# ---------------------------------------------------------------- blur (OpenCV)

_TABLES = {1: [1.0], 3: [1, 2, 1], 5: [1, 4, 6, 4, 1], 7: [2, 7, 14, 18, 14, 7, 2]}


def gaussian_kernel(k):
    if k in _TABLES:
        v = torch.tensor(_TABLES[k], dtype=torch.float64)
    else:
        sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
        x = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
        v = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return v / v.sum()


def blur(m, k=5):
    """cv2.GaussianBlur(m, (k, k), 0) on a 2-D map: reflect-101 borders."""
    kern = gaussian_kernel(k)
    p = k // 2
    x = m.double()[None, None]
    x = F.pad(x, (p, p, p, p), mode="reflect")  # torch 'reflect' is reflect-101
    x = F.conv2d(x, kern.view(1, 1, 1, k))
    x = F.conv2d(x, kern.view(1, 1, k, 1))
    return x[0, 0]


def minmax(d):
    lo, hi = d.min(), d.max()
    if hi <= lo:
        return torch.zeros_like(d)
    return (d - lo) / (hi - lo)


# ---------------------------------------------------------------- pipeline

def clip_pixels(u8):
    """The contract's CLIP preprocessing with PIL: shorter side to 224
    (bicubic), centre crop, CLIP mean/std."""
    img = Image.fromarray(u8)
    w, h = img.size
    s = 224 / min(w, h)
    img = img.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BICUBIC)
    w, h = img.size
    l, t = (w - 224) // 2, (h - 224) // 2
    img = img.crop((l, t, l + 224, t + 224))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])[:, None, None]
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
    return ((x - mean) / std)[None]


class Pipeline:
    def __init__(self, mcdm, ae, scale, cfg, task, tok=None):
        self.m, self.ae, self.scale, self.cfg, self.task = mcdm, ae, scale, cfg, task
        self.tok = tok or Tokenizer()
        self.res = cfg["resolution"]
        with torch.no_grad():
            self.black = ae.encoder(-torch.ones(1, 3, self.res, self.res)) * scale
            self.null_text = self.text("")

    def text(self, s):
        with torch.no_grad():
            return self.m.text_encoder(torch.tensor([self.tok(s)]))

    def prompt(self, direction=None, subject="person"):
        spec = render.TASKS[self.task]
        t = spec["prompt_source"] if direction is None else spec["prompts"][direction]
        return core.TEMPLATE.format(subject=subject, text=t)

    @torch.no_grad()
    def encode(self, u8):
        x = core.to_tensor(u8[None])
        z0 = self.ae.encoder(x) * self.scale
        emb = self.m.image_encoder(clip_pixels(u8))
        tok = self.m.image_projector(z0, emb)
        return z0, tok

    @torch.no_grad()
    def branches(self, z, t, z0, tok, texts):
        """ε(∅,∅,∅), ε(c_im,∅,∅), ε(c_im,c_s,∅) and ε(c_im,c_s,p) for each p."""
        K = tok.shape[1]
        zeros = torch.zeros_like(tok)
        rows = [(self.black, zeros, self.null_text), (self.black, tok, self.null_text),
                (z0, tok, self.null_text)] + [(z0, tok, p) for p in texts]
        sample = torch.cat([torch.cat([z, s], 1) for s, _, _ in rows])
        ctx = torch.cat([torch.cat([p, a], 1) for _, a, p in rows])
        ts = torch.full((len(rows),), float(t))
        return self.m.unet(sample, ts, ctx).split(1)

    @staticmethod
    def guided(e, s1, s2, s3, ep):
        return e[0] + s1 * (e[1] - e[0]) + s2 * (e[2] - e[1]) + s3 * (ep - e[2])

    @torch.no_grad()
    def mask(self, z0, tok, pa, pb, noise_rows, s, steps=20, noise_steps=10, sched="unipc",
             normalize="normalize_then_blur", kernel=5):
        ds = []
        for n in noise_rows:
            sa, sb = SCHEDULERS[sched](steps), SCHEDULERS[sched](steps)
            t = sa.timesteps[steps - noise_steps]
            zt = sa.add_noise(z0, n[None], t)
            e = self.branches(zt, t, z0, tok, [pa, pb])
            za = sa.step(self.guided(e, *s, e[3]), t, zt)
            zb = sb.step(self.guided(e, *s, e[4]), t, zt)
            ds.append((zb - za).abs().mean(dim=1)[0].double())
        D = torch.stack(ds).mean(0)
        N = minmax(blur(D, kernel)) if normalize == "blur_then_normalize" else blur(minmax(D), kernel)
        return N

    @torch.no_grad()
    def edit(self, z0, tok, pa, pb, n0, s, steps=20, sched="unipc", M=None, blend=False):
        sc = SCHEDULERS[sched](steps)
        z = n0[None].clone()
        ts = sc.timesteps
        for i, t in enumerate(ts):
            e = self.branches(z, t, z0, tok, [pb] if M is None else [pa, pb])
            if M is None:
                eps = self.guided(e, *s, e[3])
            else:
                ea = self.guided(e, *s, e[3])
                eps = ea + s[2] * M * (e[4] - e[3])
            z = sc.step(eps, t, z)
            if M is not None and blend:
                ref = sc.add_noise(z0, n0[None], ts[i + 1]) if i + 1 < len(ts) else z0
                z = M * z + (1 - M) * ref
        return z

    @torch.no_grad()
    def decode(self, z):
        x = self.ae.decoder(z / self.scale).clamp(-1, 1)
        return ((x[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()


def read_npy(path):
    return torch.from_numpy(np.load(path).astype(np.float32))


def main(a):
    mcdm, ae, scale, cfg, task, _ = core.load_run(a.run, fp16=True, ae=a.ae)
    pipe = Pipeline(mcdm, ae, scale, cfg, task)
    u8 = data.load_rgb(a.input, cfg["resolution"])
    noise = read_npy(a.noise)
    z0, tok = pipe.encode(u8)
    pa, pb = pipe.text(pipe.prompt(None, a.subject)), pipe.text(pipe.prompt(a.direction, a.subject))
    s = (a.s1, a.s2, a.s3)
    M = None
    if a.mode == "masked":
        N = pipe.mask(z0, tok, pa, pb, noise[1:], s, a.steps, a.mask_noise_steps, a.scheduler, a.mask_normalize)
        M = (N > a.lam).float()[None, None]
        data.write_png(a.out + ".mask.png", (M[0, 0].numpy() * 255).astype(np.uint8))
    z = pipe.edit(z0, tok, pa, pb, noise[0], s, a.steps, a.scheduler, M, a.mask_guidance == "eq3_latent_blend")
    data.write_png(a.out, pipe.decode(z))


def grid(mcdm, ema_state, ae, scale, cfg, task, black, path, n=4, seed=0):
    """A sample grid during training: held-out identities (validation seed),
    each row source then the baseline edit for every direction, EMA weights."""
    import copy
    m = copy.deepcopy(mcdm)
    m.load_state_dict(ema_state)
    m.eval()
    pipe = Pipeline(m, ae, scale, cfg, task)
    spec = render.TASKS[task]
    g = torch.Generator().manual_seed(seed)
    rows = []
    h = cfg["resolution"] // cfg["latent_factor"]
    for i in range(n):
        p = data.identity(data.VAL_SEED, i)
        src = render.render_pair(p, task, spec["directions"][0], cfg["resolution"])[0]
        z0, tok = pipe.encode(src)
        pa = pipe.text(pipe.prompt(None))
        row = [src]
        for d in spec["directions"]:
            z = pipe.edit(z0, tok, pa, pipe.text(pipe.prompt(d)), torch.randn(4, h, h, generator=g),
                          (3, 3, 5), steps=20, sched="ddim")
            row.append(pipe.decode(z))
        rows.append(np.concatenate(row, 1))
    data.write_png(path, np.concatenate(rows, 0))
