"""The foreground segmenter (model contract `foreground/`): image [1,3,S,S] in
[0,1] -> alpha [1,1,S,S] in [0,1], the character against its background, so
that stickers from opaque pictures are cut out.

It learns from two sources of true silhouettes: the broad renderer's
characters (render_layers' alpha, every direction, so costumes' new outlines
are in) and openclipart drawings with real transparency, each composited at
a random place and size onto backgrounds a user's picture might have (white,
flat, gradients, stripes and checks, noise, smooth photo-like textures). The
openclipart files that the external evaluation uses, and the ones the
review keeps back (people/head*, *face*, *dirk_struve*), are never trained
on; the IoU on them is measured (`likeness_train eval-foreground`).
"""
import glob
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from . import auxnets, data, render

SIZE = 128
_HERE = os.path.dirname(__file__)
EXTERNAL = os.path.join(_HERE, "..", "..", "..", "testdata", "external", "openclipart")


def log(msg):
    auxnets.log(msg)


class Segmenter(nn.Module):
    """A small U-Net working at half the input's resolution (a stride-2
    stem, four more stages down to 4x4, skip connections up), its matte
    upsampled to the input's size: Likeness refines the edges at the
    picture's own resolution anyway (matte.Refine), so full-resolution
    layers here would cost three times the compute for little."""

    def __init__(self, width=16):
        super().__init__()
        ch = [width, width * 2, width * 3, width * 4, width * 4]

        def block(a, b):
            return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(),
                                 nn.Conv2d(b, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU())

        self.stem = nn.Sequential(nn.Conv2d(3, ch[0], 3, stride=2, padding=1), nn.BatchNorm2d(ch[0]), nn.ReLU())
        self.inc = block(ch[0], ch[0])
        self.down = nn.ModuleList(block(a, b) for a, b in zip(ch, ch[1:]))
        self.up = nn.ModuleList(block(b + a, a) for a, b in zip(ch[:-1], ch[1:]))
        self.out = nn.Conv2d(ch[0], 1, 1)

    def forward(self, image):
        x = self.inc(self.stem(image))
        skips = [x]
        for d in self.down:
            x = d(F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for u in reversed(self.up):
            s = skips.pop()
            x = u(torch.cat([F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False), s], 1))
        return torch.sigmoid(F.interpolate(self.out(x), scale_factor=2.0, mode="bilinear", align_corners=False))


# ---------------------------------------------------------------- data

def held_out():
    """openclipart paths (relative to its png/ folder) never trained on."""
    keep = set()
    for name in ("faces.tsv", "expressions.tsv", "costumes.tsv"):
        p = os.path.join(EXTERNAL, name)
        if os.path.exists(p):
            keep |= {ln.split("\t")[0] for ln in open(p, encoding="utf-8").read().splitlines()[1:] if ln}
    return keep


def _reserved(rel):
    base = os.path.basename(rel)
    return rel.startswith("people/head") or (rel.startswith("people/") and ("face" in base or "dirk_struve" in base))


def clipart_bank(root=auxnets.OPENCLIPART, n=1200, seed=0, side=160):
    """RGBA drawings [k, side, side, 4] from openclipart with real
    transparency, fitted into the square; people/ first, then other folders."""
    skip = held_out()
    files = sorted(glob.glob(os.path.join(root, "*", "*.png")))
    rng = np.random.default_rng(seed)
    people = [f for f in files if "/people/" in f]
    other = [f for f in files if "/people/" not in f]
    rng.shuffle(other)
    out = []
    for f in people + other:
        rel = os.path.relpath(f, root)
        if rel in skip or _reserved(rel):
            continue
        try:
            im = Image.open(f)
            if im.width * im.height > 16_000_000:  # a few are posters; skip rather than decode
                continue
            im = im.convert("RGBA")
        except (OSError, Image.DecompressionBombError):
            continue
        a = np.asarray(im.getchannel("A"))
        cover = (a > 127).mean()
        if a.min() == 255 or cover < 0.08 or cover > 0.92:  # opaque, or a speck
            continue
        im.thumbnail((side, side), Image.BOX)
        sq = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        sq.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
        out.append(np.asarray(sq))
        if len(out) >= n:
            break
    return np.stack(out)


def render_bank(seed, n, size=SIZE, progress=None):
    """Renderer characters as RGBA [n, size, size, 4]: a random task and
    direction each, alpha the true silhouette."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size, 4), np.uint8)
    for i in range(n):
        p = data.identity(seed, i)
        task = "expressions" if rng.random() < 0.5 else "costumes"
        d = ["neutral" if task == "expressions" else None] + list(render.TASKS[task]["directions"])
        pick = d[int(rng.integers(len(d)))]
        rgb, a = render.render_layers(p, size, **({"expr": pick} if task == "expressions" else {"costume": pick}))
        out[i, ..., :3], out[i, ..., 3] = rgb, a
        if progress and (i + 1) % 200 == 0:
            progress(i + 1, n)
    return out


def background(rng, n):
    """A background a user's picture might have, uint8 [n, n, 3]."""
    r = rng.random()
    if r < 0.2:
        return np.full((n, n, 3), 255, np.uint8)
    if r < 0.35:
        return np.full((n, n, 3), rng.integers(0, 256, 3), np.uint8)
    yy, xx = np.mgrid[0:n, 0:n] / n
    if r < 0.55:  # linear or radial gradient
        a, b = rng.integers(0, 256, (2, 3))
        t = (xx * math.cos(rng.uniform(0, 6.3)) + yy * math.sin(rng.uniform(0, 6.3)))
        if rng.random() < 0.4:
            t = np.hypot(xx - rng.random(), yy - rng.random())
        t = (t - t.min()) / max(1e-6, np.ptp(t))
        return (a + (b - a) * t[..., None]).astype(np.uint8)
    if r < 0.7:  # stripes, checks or dots
        a, b = rng.integers(0, 256, (2, 3))
        f = rng.uniform(4, 20)
        kind = rng.integers(3)
        if kind == 0:
            m = np.sin(2 * math.pi * f * (xx + yy * rng.uniform(-1, 1))) > 0
        elif kind == 1:
            m = (np.floor(xx * f) + np.floor(yy * f)) % 2 == 0
        else:
            m = np.hypot((xx * f) % 1 - 0.5, (yy * f) % 1 - 0.5) < 0.25
        return np.where(m[..., None], a, b).astype(np.uint8)
    # smooth "photo-like" texture: octaves of upsampled noise
    acc = np.zeros((n, n, 3), np.float32)
    for k, amp in ((4, 1.0), (8, 0.5), (16, 0.3), (64, 0.15)):
        low = Image.fromarray(rng.integers(0, 256, (k, k, 3)).astype(np.uint8)).resize((n, n), Image.BICUBIC)
        acc += amp * (np.asarray(low, np.float32) - 128)
    base = rng.integers(40, 220, 3)
    return np.clip(base + acc * rng.uniform(0.3, 1.0), 0, 255).astype(np.uint8)


def composite(fg, bg, rng, out=SIZE):
    """fg RGBA [s, s, 4] placed at random size and position on bg: (image
    uint8 [out, out, 3], alpha float [out, out])."""
    s = fg.shape[0]
    im = Image.fromarray(fg)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    scale = float(np.exp(rng.uniform(np.log(0.55), np.log(1.5)))) * out / s
    side = max(8, int(s * scale))
    im = im.resize((side, side), Image.BILINEAR)
    if rng.random() < 0.3:
        im = im.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
    canvas = Image.new("RGBA", (out, out), (0, 0, 0, 0))
    off = rng.integers(-side // 4, max(1, out - side + side // 4) + 1, 2)
    canvas.paste(im, (int(off[0]), int(off[1])))
    a = np.asarray(canvas, np.float32)[..., 3:] / 255
    rgb = np.asarray(canvas, np.float32)[..., :3]
    img = rgb * a + bg.astype(np.float32) * (1 - a)
    return np.clip(img, 0, 255).astype(np.uint8), a[..., 0]


def batch(banks, rng, n):
    xs, ys = [], []
    for _ in range(n):
        bank = banks[int(rng.random() < 0.5)]
        fg = bank[int(rng.integers(len(bank)))]
        img, a = composite(fg, background(rng, SIZE), rng)
        x = auxnets._photometric(auxnets._to_t(img), rng) if rng.random() < 0.7 else auxnets._to_t(img)
        xs.append(x)
        ys.append(torch.from_numpy(a)[None])
    return torch.stack(xs), torch.stack(ys)


def loss_fn(p, y):
    inter = (p * y).sum((1, 2, 3))
    union = (p + y - p * y).sum((1, 2, 3))
    return F.binary_cross_entropy(p, y) + (1 - (inter + 1) / (union + 1)).mean()


def iou(p, y):
    pb, yb = p > 0.5, y > 0.5
    return float(((pb & yb).sum((1, 2, 3)).float() / (pb | yb).sum((1, 2, 3)).clamp(min=1).float()).mean())


def _cached(path, make):
    if os.path.exists(path):
        return np.load(path)["x"]
    x = make()
    tmp = path + ".tmp.npz"
    np.savez(tmp, x=x)
    os.replace(tmp, path)
    return x


def train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    renders = _cached(os.path.join(args.out, f"fg-renders-{args.identities}.npz"),
                      lambda: render_bank(data.TRAIN_SEED + 70, args.identities,
                                          progress=lambda a, m: log(f"rendered {a}/{m}")))
    clip = _cached(os.path.join(args.out, f"fg-clipart-{args.clipart}.npz"), lambda: clipart_bank(n=args.clipart))
    log(f"foreground: {len(renders)} renders, {len(clip)} openclipart drawings")
    val_r = render_bank(data.VAL_SEED + 70, 64)
    vx, vy = batch([val_r, val_r], np.random.default_rng(7), 128)
    model = Segmenter()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    ckpt = os.path.join(args.out, "foreground.pt")
    done = 0.0  # seconds of training before this run (the schedule spans them all)
    if args.resume and os.path.exists(ckpt):
        z = torch.load(ckpt)
        model.load_state_dict(z["model"])
        opt.load_state_dict(z["opt"])
        done = z["seconds"]
        log(f"foreground: resumed at {done / 60:.1f} min")
    budget = args.minutes * 60

    def save(seconds):
        tmp = ckpt + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "seconds": seconds}, tmp)
        os.replace(tmp, ckpt)

    start, step, saved = time.time() - done, 0, time.time()
    while time.time() - start < budget and (not args.steps or step < args.steps):
        frac = (time.time() - start) / budget
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(1, frac)))
        if time.time() - saved > 180:
            save(time.time() - start)
            saved = time.time()
        x, y = batch([renders, clip], rng, args.batch)
        model.train()
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            model.eval()
            with torch.no_grad():
                v = iou(model(vx), vy)
            log(f"foreground step {step} loss {loss.item():.4f} held-out render IoU {v:.3f}")
    save(time.time() - start)
    model.eval()
    auxnets.export_onnx(model, os.path.join(args.out, "foreground", "model.onnx"), "image", "alpha", SIZE)
    with torch.no_grad():
        v = iou(model(vx), vy)
    log(f"foreground: {step} steps, held-out render IoU {v:.3f}")
    return v


# The backgrounds of the openclipart part of the matte set, each a kind the
# issue names: flat colour, gradient, texture.
MATTE_BACKGROUNDS = ("flat", "gradient", "texture")


def _named_background(kind, rng, n):
    while True:
        r = {"flat": 0.25, "gradient": 0.45, "texture": 0.99}[kind]
        b = background(_Fixed(rng, r), n)
        if kind != "flat" or b.mean() < 250:  # flat: a colour, not white (white is the easy case)
            return b


class _Fixed:
    """An rng whose first random() is r, so background() picks one kind."""

    def __init__(self, rng, r):
        self.rng, self.r = rng, r

    def random(self):
        r, self.r = self.r, None
        return self.rng.random() if r is None else r

    def __getattr__(self, name):
        return getattr(self.rng, name)


def write_matte_set(out, renders=48, size=512):
    """Pictures with their true alpha for `likeness eval --matte`:
    held-out renders on their own backgrounds, and the openclipart faces of
    testdata/external/openclipart/faces.tsv (never trained on) composited
    onto a flat, a gradient and a textured background. index.tsv: file,
    alpha, group."""
    os.makedirs(out, exist_ok=True)
    rows = []
    rng = np.random.default_rng(2024)
    for i in range(renders):
        p = data.identity(data.TEST_SEED, i)
        task = "expressions" if i % 2 == 0 else "costumes"
        rgb, a = render.render_layers(p, size, **({"expr": "neutral"} if task == "expressions" else {"costume": None}))
        name = f"render-{i:03d}"
        Image.fromarray(rgb).save(os.path.join(out, name + ".png"))
        Image.fromarray(a).save(os.path.join(out, name + ".alpha.png"))
        rows.append((name + ".png", name + ".alpha.png", "renders"))
    faces = [ln.split("\t")[0] for ln in open(os.path.join(EXTERNAL, "faces.tsv"), encoding="utf-8").read().splitlines()[1:] if ln]
    for rel in faces:
        im = Image.open(os.path.join(auxnets.OPENCLIPART, rel)).convert("RGBA")
        im.thumbnail((size, size), Image.LANCZOS)
        side = max(im.size)
        sq = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        sq.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
        a = np.asarray(sq.getchannel("A"))
        stem = os.path.splitext(os.path.basename(rel))[0]
        Image.fromarray(a).save(os.path.join(out, f"oc-{stem}.alpha.png"))
        for kind in MATTE_BACKGROUNDS:
            bg = Image.fromarray(_named_background(kind, rng, side)).convert("RGBA")
            img = Image.alpha_composite(bg, sq).convert("RGB")
            img.save(os.path.join(out, f"oc-{stem}-{kind}.png"))
            rows.append((f"oc-{stem}-{kind}.png", f"oc-{stem}.alpha.png", f"openclipart-{kind}"))
    tmp = os.path.join(out, "index.tsv.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("file\talpha\tgroup\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    os.replace(tmp, os.path.join(out, "index.tsv"))
    return len(rows)
