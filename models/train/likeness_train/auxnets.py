"""Small helper networks trained on the broad renderer, exported to ONNX and
run by the same ONNX Runtime as the packs:

- the face locator (model contract `face_locator/`): image [1,3,S,S] in
  [0,1] -> box [1,5] = x0, y0, x1, y1 (fractions, brows to chin, cheek to
  cheek) and a confidence that a face is there at all;
- the judges (`likeness eval`'s "recognised" on pictures the renderer did
  not draw): image [1,3,S,S] in [0,1] -> logits [1,C] over the task's source
  and directions. The expression judge looks at the face crop (the face box
  widened by JUDGE_MARGIN each side), the costume judge at the whole square.

Both learn from renders under heavy augmentation (placement and zoom beyond
the renderer's own, colour, blur, noise, grey, JPEG-like smoothing,
outline-only drawings on white), because they are meant for other people's
drawings. Their accuracy on openclipart drawings is measured, not assumed.
"""
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from . import data, render

LOCATOR_SIZE = 64
LOCATOR_ZOOM = (0.2, 1.6)  # output scale range of _affine for the locator's training views
JUDGE_SIZE = 64
JUDGE_MARGIN = 0.25  # of the face box's width/height, each side
OPSET = 14


def log(msg):
    import sys
    print(msg, file=sys.stderr, flush=True)


class Net(nn.Module):
    """Five stride-2 conv stages (64 -> 2), then a linear head on the
    flattened 2x2 map, so the head still knows where things are."""

    def __init__(self, outputs, width=16, size=64):
        super().__init__()
        chans = [3, width, width * 2, width * 3, width * 4, width * 4]
        layers = []
        for a, b in zip(chans, chans[1:]):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(),
                       nn.Conv2d(b, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        side = size // 32
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(chans[-1] * side * side, 128),
                                  nn.ReLU(), nn.Linear(128, outputs))

    def forward(self, x):
        return self.head(self.features(x))


class Locator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = Net(5, size=LOCATOR_SIZE)

    def forward(self, image):
        y = self.net(image)
        return torch.cat([torch.sigmoid(y[:, :4]) * 1.4 - 0.2, torch.sigmoid(y[:, 4:])], 1)


# ---------------------------------------------------------------- renders

def render_bank(task, seed, n, size=128, progress=None):
    """Renders of n identities: images [n, 1+dirs, size, size, 3], alpha of
    the source [n, size, size], feature boxes [n, 4] (fractions)."""
    spec = render.TASKS[task]
    k = 1 + len(spec["directions"])
    imgs = np.zeros((n, k, size, size, 3), np.uint8)
    alpha = np.zeros((n, size, size), np.uint8)
    boxes = np.zeros((n, 4), np.float32)
    for i in range(n):
        p = data.identity(seed, i)
        kw = (lambda d: {"expr": d}) if task == "expressions" else (lambda d: {"costume": d})
        imgs[i, 0], alpha[i] = render.render_layers(p, size, **kw("neutral" if task == "expressions" else None))
        for j, d in enumerate(spec["directions"]):
            imgs[i, 1 + j] = render.render(p, size, **kw(d))
        boxes[i] = render.feature_box(p)
        if progress and (i + 1) % 200 == 0:
            progress(i + 1, n)
    return imgs, alpha, boxes


# ---------------------------------------------------------------- augmentation

def _affine(img, rng, box, zoom, out):
    """Resample img (HxWx3 uint8) into an out x out square: the box (fractions)
    is moved and scaled at random (zoom range), the rest filled with a random
    background; returns (image, box in the output's fractions)."""
    h = img.shape[0]
    s = float(np.exp(rng.uniform(np.log(zoom[0]), np.log(zoom[1]))))  # output px per input px, relative
    bw = (box[2] - box[0]) * s
    bh = (box[3] - box[1]) * s
    # where the box's centre goes: anywhere that keeps most of the box inside
    cx = rng.uniform(min(0.5, bw / 2), max(0.5, 1 - bw / 2))
    cy = rng.uniform(min(0.5, bh / 2), max(0.5, 1 - bh / 2))
    bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    # output coords u = (x - bx) * s + cx  (fractions); PIL wants input = A * output
    a = 1 / s
    c0 = (bx - cx * a) * h
    c1 = (by - cy * a) * h
    corner = tuple(int(v) for v in img[0, 0])
    bg = Image.new("RGB", (out, out), corner) if rng.random() < 0.6 else _random_bg(rng, out)
    im = Image.fromarray(img).transform((out, out), Image.AFFINE, (a * h / out, 0, c0, 0, a * h / out, c1),
                                        resample=Image.BILINEAR, fillcolor=None)
    inside = Image.new("L", img.shape[1::-1], 255).transform((out, out), Image.AFFINE,
                                                          (a * h / out, 0, c0, 0, a * h / out, c1),
                                                          resample=Image.BILINEAR)
    bg.paste(im, (0, 0), inside)
    nb = [(box[0] - bx) * s + cx, (box[1] - by) * s + cy, (box[2] - bx) * s + cx, (box[3] - by) * s + cy]
    return np.asarray(bg), np.array(nb, np.float32)


def _random_bg(rng, n):
    r = rng.random()
    if r < 0.5:
        return Image.new("RGB", (n, n), (255, 255, 255))
    if r < 0.8:
        return Image.new("RGB", (n, n), tuple(int(v) for v in rng.integers(0, 256, 3)))
    low = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    return Image.fromarray(low).resize((n, n), Image.BICUBIC)


_SOBEL = torch.tensor([[[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]])


def _outline(x, rng):
    """Ink the edges of x black, as clip art outlines its shapes (most of the
    renderer's styles draw none): Sobel magnitude of the grey image over a
    threshold, one or two pixels wide."""
    g = x.mean(0, keepdim=True)[None]
    k = torch.stack([_SOBEL, _SOBEL.transpose(1, 2)])
    e = F.conv2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), k).pow(2).sum(1, keepdim=True).sqrt()
    if rng.random() < 0.5:
        e = F.max_pool2d(e, 3, 1, 1)
    ink = (e > float(rng.uniform(0.7, 1.6)))[0]
    return torch.where(ink, torch.zeros_like(x) + float(rng.uniform(0, 0.15)), x)


def _photometric(x, rng):
    """x float [3,S,S] in [0,1]: outlines, colour, contrast, grey, blur, noise."""
    if rng.random() < 0.35:
        x = _outline(x, rng)
    if rng.random() < 0.8:
        x = x * torch.tensor(rng.uniform(0.75, 1.25, 3), dtype=torch.float32).view(3, 1, 1)
        x = x + float(rng.uniform(-0.12, 0.12))
    if rng.random() < 0.15:
        x = x.mean(0, keepdim=True).expand(3, -1, -1).clone()
    if rng.random() < 0.15:  # a different colour order: other skin and hair colours
        x = x[torch.from_numpy(rng.permutation(3))]
    if rng.random() < 0.3:
        x = F.avg_pool2d(x[None], 3, 1, 1, count_include_pad=False)[0]
    if rng.random() < 0.3:
        x = x + torch.from_numpy(rng.normal(0, rng.uniform(0.01, 0.06), x.shape).astype(np.float32))
    return x.clamp(0, 1)


def _to_t(u8):
    return torch.from_numpy(np.ascontiguousarray(u8)).float().permute(2, 0, 1) / 255.0


# ---------------------------------------------------------------- face locator

def locator_batch(bank, rng, batch):
    imgs, _, boxes = bank
    xs, ys = [], []
    for _ in range(batch):
        i, k = int(rng.integers(len(imgs))), int(rng.integers(imgs.shape[1]))
        if rng.random() < 0.1:  # no face: background, or clothes and background only
            if rng.random() < 0.5:
                im = np.asarray(_random_bg(rng, LOCATOR_SIZE))
            else:
                b = boxes[i]
                y0 = min(127, int((b[3] + 0.15) * 128))
                im = np.asarray(Image.fromarray(imgs[i, k][y0:]).resize((LOCATOR_SIZE, LOCATOR_SIZE), Image.BILINEAR)) \
                    if y0 < 112 else np.asarray(_random_bg(rng, LOCATOR_SIZE))
            xs.append(_photometric(_to_t(im), rng))
            ys.append(np.array([0, 0, 0, 0, 0], np.float32))
            continue
        src = imgs[i, k]
        if rng.random() < 0.5:
            src = src[:, ::-1]
            b = boxes[i]
            b = np.array([1 - b[2], b[1], 1 - b[0], b[3]], np.float32)
        else:
            b = boxes[i]
        # Zoomed out as far as a full figure's head (a tenth of the frame)
        # and in to the face alone, so the first pass finds small faces.
        im, nb = _affine(src, rng, b, LOCATOR_ZOOM, LOCATOR_SIZE)
        xs.append(_photometric(_to_t(im), rng))
        ys.append(np.concatenate([nb, [1.0]]).astype(np.float32))
    return torch.stack(xs), torch.from_numpy(np.stack(ys))


def train_locator(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    banks = [_bank(args, t) for t in ("expressions", "costumes")]
    bank = tuple(np.concatenate([b[j] for b in banks]) for j in range(3))
    model = Locator()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    start, step = time.time(), 0
    val = locator_batch(_bank(args, "costumes", val=True), np.random.default_rng(7), 256)
    while time.time() - start < args.minutes * 60 and (not args.steps or step < args.steps):
        frac = (time.time() - start) / (args.minutes * 60)
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(1, frac)))
        x, y = locator_batch(bank, rng, args.batch)
        model.train()
        out = model(x)
        face = y[:, 4] > 0
        loss = F.binary_cross_entropy(out[:, 4], y[:, 4])
        if face.any():
            loss = loss + 10 * F.smooth_l1_loss(out[face, :4], y[face, :4], beta=0.02)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log(f"locator step {step} loss {loss.item():.4f} val centre error {locator_error(model, val):.3f} face widths")
    err = locator_error(model, val)
    log(f"locator: {step} steps, held-out centre error {err:.3f} of the face width")
    export_onnx(model.eval(), os.path.join(args.out, "face_locator", "model.onnx"), "image", "box", LOCATOR_SIZE)
    return err


def locator_error(model, val):
    x, y = val
    model.eval()
    with torch.no_grad():
        out = model(x)
    face = y[:, 4] > 0
    p, t = out[face, :4], y[face, :4]
    c = ((p[:, :2] + p[:, 2:]) / 2 - (t[:, :2] + t[:, 2:]) / 2).norm(dim=1)
    return float((c / (t[:, 2] - t[:, 0])).median())


# ---------------------------------------------------------------- judges

def judge_crop(img, box, size=JUDGE_SIZE, margin=JUDGE_MARGIN):
    """The face crop the expression judge sees: box (fractions of img)
    widened by margin each side, as a square around its centre."""
    h = img.shape[0]
    bw, bh = box[2] - box[0], box[3] - box[1]
    side = max(bw, bh) * (1 + 2 * margin)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = (cx - side / 2) * h, (cy - side / 2) * h
    im = Image.fromarray(img).transform((size, size), Image.EXTENT, (x0, y0, x0 + side * h, y0 + side * h),
                                        resample=Image.BILINEAR, fillcolor=(255, 255, 255))
    return np.asarray(im)


def judge_batch(bank, task, rng, batch):
    imgs, _, boxes = bank
    xs, ys = [], []
    for _ in range(batch):
        i, k = int(rng.integers(len(imgs))), int(rng.integers(imgs.shape[1]))
        im = imgs[i, k]
        if rng.random() < 0.5:
            im = im[:, ::-1]
            b = np.array([1 - boxes[i][2], boxes[i][1], 1 - boxes[i][0], boxes[i][3]], np.float32)
        else:
            b = boxes[i].copy()
        if task == "expressions":
            # the box as a locator or a person would give it: off by up to 12%
            w, h = b[2] - b[0], b[3] - b[1]
            j = rng.uniform(-0.12, 0.12, 4) * np.array([w, h, w, h])
            crop = judge_crop(np.ascontiguousarray(im), b + j)
        else:
            crop, _ = _affine(np.ascontiguousarray(im), rng, [0, 0, 1, 1], (0.7, 1.15), JUDGE_SIZE)
        xs.append(_photometric(_to_t(crop), rng))
        ys.append(k)
    return torch.stack(xs), torch.tensor(ys)


def train_judge(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    task = args.task
    bank = _bank(args, task)
    val = judge_batch(_bank(args, task, val=True), task, np.random.default_rng(7), 400)
    classes = [render.TASKS[task]["source"]] + render.TASKS[task]["directions"]
    model = Net(len(classes), size=JUDGE_SIZE)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    start, step = time.time(), 0
    while time.time() - start < args.minutes * 60 and (not args.steps or step < args.steps):
        frac = (time.time() - start) / (args.minutes * 60)
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(1, frac)))
        x, y = judge_batch(bank, task, rng, args.batch)
        model.train()
        loss = F.cross_entropy(model(x), y, label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log(f"judge {task} step {step} loss {loss.item():.4f} held-out accuracy {judge_accuracy(model, val):.3f}")
    acc = judge_accuracy(model, val)
    log(f"judge {task}: {step} steps, held-out render accuracy {acc:.3f}")
    path = os.path.join(args.out, f"judge-{task}", "model.onnx")
    export_onnx(model.eval(), path, "image", "logits", JUDGE_SIZE)
    info = {"task": task, "classes": classes, "size": JUDGE_SIZE,
            "input": "face" if task == "expressions" else "square", "margin": JUDGE_MARGIN,
            "held_out_render_accuracy": round(acc, 4), "steps": step}
    if task == "expressions" and os.path.exists(EXTERNAL_EXPRESSIONS):
        ext, per = external_accuracy(model, classes)
        info["external_accuracy"] = round(ext, 4)
        info["external_per_label"] = per
        log(f"judge {task}: accuracy {ext:.3f} on {EXTERNAL_EXPRESSIONS} {per}")
    data.write_text(os.path.join(os.path.dirname(path), "judge.json"), json.dumps(info, indent=2) + "\n")
    return acc


# openclipart drawings that show an expression (testdata/external/openclipart)
EXTERNAL_EXPRESSIONS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "testdata", "external",
                                    "openclipart", "expressions.tsv")
OPENCLIPART = "/usr/share/openclipart/png"


def load_flat(path):
    """An image flattened on white, as Likeness does, uint8 [H, W, 3]."""
    im = Image.open(path).convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(bg, im).convert("RGB"))


def external_accuracy(model, classes, tsv=EXTERNAL_EXPRESSIONS, root=OPENCLIPART):
    """Accuracy on drawings nobody here made: the label is what a person
    sees; the face box is the annotated one (as the judge is used)."""
    rows = [ln.rstrip("\n").split("\t") for ln in open(tsv, encoding="utf-8")][1:]
    hits, per = 0, {}
    model.eval()
    for r in rows:
        if len(r) < 3 or r[1] not in classes:
            continue
        img = load_flat(os.path.join(root, r[0]))
        h, w = img.shape[:2]
        x0, y0, x1, y1 = (int(v) for v in r[2].split(","))
        side = max(h, w)  # judge_crop wants fractions of a square picture
        sq = np.full((side, side, 3), 255, np.uint8)
        sq[:h, :w] = img
        crop = judge_crop(sq, [x0 / side, y0 / side, x1 / side, y1 / side])
        with torch.no_grad():
            got = classes[int(model(_to_t(crop)[None]).argmax(1))]
        ok = got == r[1]
        hits += ok
        a, b = per.get(r[1], (0, 0))
        per[r[1]] = (a + ok, b + 1)
    n = sum(b for _, b in per.values())
    return hits / max(1, n), {k: f"{a}/{b}" for k, (a, b) in sorted(per.items())}


def judge_accuracy(model, val):
    x, y = val
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


# ---------------------------------------------------------------- shared

def _bank(args, task, val=False):
    n = 48 if val else args.identities
    seed = data.VAL_SEED if val else data.TRAIN_SEED + 50  # not the MCDM's training identities
    cache = os.path.join(args.out, f"bank-{task}-{seed}-{n}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return z["imgs"], z["alpha"], z["boxes"]
    b = render_bank(task, seed, n, progress=lambda a, m: log(f"rendered {a}/{m} {task}"))
    os.makedirs(args.out, exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, imgs=b[0], alpha=b[1], boxes=b[2])
    os.replace(tmp, cache)
    return b


def export_onnx(model, path, inp, out, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.onnx.export(model, (torch.rand(1, 3, size, size),), tmp, input_names=[inp], output_names=[out],
                      opset_version=OPSET)
    os.replace(tmp, path)
