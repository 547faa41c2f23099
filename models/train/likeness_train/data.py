"""Datasets: identities drawn from seeded streams, rendered on demand, and the
pairs folder format that `likeness eval` and `likeness pairs` share.

Identity i of a dataset with seed S comes from numpy's SeedSequence([S, i]):
train, validation and test folders use different seeds, so held-out identities
never meet training.
"""
import json
import os
import tempfile

import numpy as np
from PIL import Image

from . import render

TRAIN_SEED = 1          # the starter packs' training identities
VAL_SEED = 1001         # calibration (likeness eval --calibrate)
TEST_SEED = 2001        # the closing note's table
SAMPLE_SEED = 3001      # the app's sample photos


def identity(seed, i):
    return render.identity(np.random.default_rng(np.random.SeedSequence([seed, i])))


def _umask_mode():
    m = os.umask(0)
    os.umask(m)
    return 0o666 & ~m


def write_png(path, arr):
    """Atomic PNG write: temp file in the same folder, then rename."""
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=d)
    os.close(fd)
    try:
        Image.fromarray(arr).save(tmp, format="PNG")
        os.chmod(tmp, _umask_mode())  # mkstemp makes 0600; a PNG is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text(path, text):
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_pairs(out, task, seed, n, size, split="test", progress=None):
    """N identities, each with its source and, per direction of the task, a
    target and the true change mask; index.jsonl lists one pair per line.
    Identities already written (same seed) are kept, so a rerun resumes."""
    if task not in render.TASKS:
        raise ValueError(f"unknown task {task!r}: want one of {sorted(render.TASKS)}")
    spec = render.TASKS[task]
    lines = []
    for i in range(n):
        p = identity(seed, i)
        ident = f"{task[:4]}{seed:05d}-{i:05d}"
        box = render.face_box(p, size)
        src_rel = f"{ident}/source.png"
        src = None
        for d in spec["directions"]:
            tgt_rel, mask_rel = f"{ident}/{d}.png", f"{ident}/{d}_mask.png"
            if not all(os.path.exists(os.path.join(out, r)) for r in (src_rel, tgt_rel, mask_rel)):
                src, tgt, mask = render.render_pair(p, task, d, size)
                write_png(os.path.join(out, tgt_rel), tgt)
                write_png(os.path.join(out, mask_rel), mask)
                write_png(os.path.join(out, src_rel), src)
            lines.append(json.dumps({
                "identity": ident, "task": task, "direction": d, "source": src_rel,
                "target": tgt_rel, "mask": mask_rel, "face_box": box, "size": size,
                "split": split, "seed": seed, "index": i}))
        if progress:
            progress(i + 1, n)
    write_text(os.path.join(out, "index.jsonl"), "\n".join(lines) + "\n")
    return len(lines)


def read_pairs(folder):
    """The index of a pairs folder (ours, or one `likeness pairs` wrote), with
    paths made absolute; raises ValueError naming the file on a bad line."""
    path = os.path.join(folder, "index.jsonl")
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: {e}") from None
            for k in ("source", "target"):
                if k not in rec:
                    raise ValueError(f"{path}:{n}: missing {k!r}")
                rec[k] = os.path.join(folder, rec[k])
            if rec.get("mask"):
                rec["mask"] = os.path.join(folder, rec["mask"])
            out.append(rec)
    return out


def load_rgb(path, size=None):
    img = Image.open(path).convert("RGB")
    if size and img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    return np.asarray(img, dtype=np.uint8)


class RenderSet:
    """Renders of n identities for one task, kept in memory as uint8:
    images[i, 0] is the source, images[i, 1 + k] the k-th direction."""

    def __init__(self, task, seed, n, size, progress=None):
        spec = render.TASKS[task]
        self.task, self.directions = task, spec["directions"]
        self.images = np.zeros((n, 1 + len(self.directions), size, size, 3), np.uint8)
        for i in range(n):
            p = identity(seed, i)
            if task == "expressions":
                self.images[i, 0] = render.render(p, size, expr="neutral")
                for k, d in enumerate(self.directions):
                    self.images[i, 1 + k] = render.render(p, size, expr=d)
            else:
                self.images[i, 0] = render.render(p, size)
                for k, d in enumerate(self.directions):
                    self.images[i, 1 + k] = render.render(p, size, costume=d)
            if progress and (i + 1) % 200 == 0:
                progress(i + 1, n)
