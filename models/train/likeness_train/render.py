"""Procedural cartoon portraits, rendered in pairs that differ only by an edit.

An identity (skin, face shape, hair, eyes, glasses, clothes, background, pose
jitter) is drawn twice: once as the source and once with the edit applied.
Everything is drawn from the identity's parameters in a fixed order, so the
parts the edit does not touch come out bit-identical, and the true change mask
is simply where the two renders differ.

Rendering is supersampled (4x) and box-filtered down for anti-aliased edges.
"""
import math

import numpy as np
from PIL import Image, ImageDraw

TASKS = {
    "expressions": {
        "source": "neutral",
        "directions": ["angry", "shocked", "laughing", "crying"],
        "prompt_source": "neutral expression",
        "prompts": {"angry": "angry", "shocked": "shocked", "laughing": "laughing",
                    "crying": "crying"},
        "labels": {"angry": "Angry", "shocked": "Shocked", "laughing": "Laughing",
                   "crying": "Crying"},
    },
    "costumes": {
        "source": "everyday",
        "directions": ["flower", "sheep", "santa", "royal"],
        "prompt_source": "normal costume",
        "prompts": {"flower": "cute flower costume", "sheep": "cute white sheep costume",
                    "santa": "Santa Claus costume", "royal": "traditional golden palace costume"},
        "labels": {"flower": "Flower", "sheep": "Sheep", "santa": "Santa Claus",
                   "royal": "Royal"},
    },
}

SKIN = [(255, 224, 196), (241, 194, 155), (224, 172, 125), (198, 134, 86),
        (160, 102, 64), (115, 72, 44), (250, 210, 180), (236, 188, 140)]
HAIR = [(30, 24, 20), (70, 45, 25), (120, 80, 40), (190, 150, 80), (230, 200, 120),
        (160, 60, 30), (120, 120, 125), (200, 200, 205), (40, 40, 90), (150, 40, 90)]
EYES = [(60, 40, 20), (40, 90, 160), (50, 120, 60), (30, 30, 30), (100, 80, 50)]
CLOTH = [(200, 50, 50), (50, 90, 200), (60, 150, 80), (230, 180, 40), (120, 60, 160),
         (40, 40, 50), (230, 230, 230), (240, 130, 60), (60, 160, 170), (170, 110, 80)]
BG = [(230, 240, 250), (250, 235, 215), (220, 245, 220), (245, 220, 235), (210, 215, 225),
      (255, 250, 210), (200, 225, 240), (235, 225, 255)]

SS = 4  # supersampling factor


def identity(rng):
    """Draw one identity's parameters from a numpy Generator."""
    c = lambda pal: tuple(int(v) for v in np.clip(
        np.array(pal[rng.integers(len(pal))]) + rng.integers(-12, 13, 3), 0, 255))
    return {
        "bg": c(BG), "bg2": c(BG), "bg_style": int(rng.integers(3)),
        "skin": c(SKIN), "hair": c(HAIR), "eyes": c(EYES), "cloth": c(CLOTH),
        "cloth2": c(CLOTH), "cloth_style": int(rng.integers(3)),
        "hair_style": int(rng.integers(5)), "glasses": int(rng.integers(3)) if rng.random() < 0.45 else 0,
        "glasses_col": c([(20, 20, 20), (120, 60, 30), (180, 30, 30), (40, 40, 160)]),
        "face_w": float(rng.uniform(0.21, 0.26)), "face_h": float(rng.uniform(0.26, 0.31)),
        "cx": float(rng.uniform(0.46, 0.54)), "cy": float(rng.uniform(0.42, 0.48)),
        "scale": float(rng.uniform(0.92, 1.06)), "eye_gap": float(rng.uniform(0.36, 0.46)),
        "eye_r": float(rng.uniform(0.075, 0.1)), "mouth_w": float(rng.uniform(0.28, 0.38)),
        "neck": float(rng.uniform(0.32, 0.42)),
    }


class _Canvas:
    def __init__(self, p, size):
        self.p, self.n = p, size * SS
        self.img = Image.new("RGB", (self.n, self.n), p["bg"])
        self.d = ImageDraw.Draw(self.img)
        s = self.n * p["scale"]
        self.cx, self.cy = p["cx"] * self.n, p["cy"] * self.n
        self.fw, self.fh = p["face_w"] * s, p["face_h"] * s

    def fx(self, u):  # face-relative coordinates: u,v in [-1,1] over the face ellipse
        return self.cx + u * self.fw

    def fy(self, v):
        return self.cy + v * self.fh

    def ell(self, u0, v0, u1, v1, fill, outline=None, width=0):
        self.d.ellipse([self.fx(u0), self.fy(v0), self.fx(u1), self.fy(v1)], fill=fill,
                       outline=outline, width=int(width))

    def poly(self, pts, fill):
        self.d.polygon([(self.fx(u), self.fy(v)) for u, v in pts], fill=fill)

    def line(self, pts, fill, width):
        self.d.line([(self.fx(u), self.fy(v)) for u, v in pts], fill=fill,
                    width=max(1, int(width * self.fw)), joint="curve")

    def arc(self, u0, v0, u1, v1, start, end, fill, width):
        self.d.arc([self.fx(u0), self.fy(v0), self.fx(u1), self.fy(v1)], start, end, fill=fill,
                   width=max(1, int(width * self.fw)))


def _background(cv):
    p, d, n = cv.p, cv.d, cv.n
    if p["bg_style"] == 1:  # vertical gradient
        a, b = np.array(p["bg"]), np.array(p["bg2"])
        for y in range(0, n, SS):
            col = tuple(int(v) for v in a + (b - a) * y / n)
            d.rectangle([0, y, n, y + SS], fill=col)
    elif p["bg_style"] == 2:  # soft stripes
        for x in range(0, n, n // 8):
            d.rectangle([x, 0, x + n // 16, n], fill=p["bg2"])


def _body(cv, costume):
    p = cv.p
    top = cv.fy(0.85)
    sh = cv.fw * 2.3
    cloth, cloth2 = p["cloth"], p["cloth2"]
    if costume == "flower":
        cloth, cloth2 = (70, 165, 70), (40, 120, 50)
    elif costume == "sheep":
        cloth, cloth2 = (245, 245, 240), (225, 225, 220)
    elif costume == "santa":
        cloth, cloth2 = (200, 30, 35), (250, 250, 250)
    elif costume == "royal":
        cloth, cloth2 = (110, 40, 150), (230, 190, 60)
    # neck
    nw = p["neck"] * cv.fw
    cv.d.rectangle([cv.cx - nw, cv.fy(0.6), cv.cx + nw, top + cv.fh * 0.3], fill=p["skin"])
    box = [cv.cx - sh, top + cv.fh * 0.15, cv.cx + sh, top + cv.fh * 2.6]
    cv.d.rounded_rectangle(box, radius=int(cv.fw * 0.7), fill=cloth)
    if costume is None:
        if p["cloth_style"] == 1:  # stripes
            y = box[1] + cv.fh * 0.2
            while y < cv.n:
                cv.d.rectangle([box[0] + cv.fw * 0.15, y, box[2] - cv.fw * 0.15, y + cv.fh * 0.08],
                               fill=cloth2)
                y += cv.fh * 0.22
        elif p["cloth_style"] == 2:  # dots
            for i in range(-3, 4):
                for j in range(0, 4):
                    x, y = cv.cx + i * cv.fw * 0.55, box[1] + cv.fh * (0.35 + 0.4 * j)
                    r = cv.fw * 0.09
                    cv.d.ellipse([x - r, y - r, x + r, y + r], fill=cloth2)
        # collar
        cv.d.polygon([(cv.cx - nw * 1.6, box[1]), (cv.cx, box[1] + cv.fh * 0.35),
                      (cv.cx + nw * 1.6, box[1])], fill=p["skin"])
    elif costume == "flower":
        for i in range(-3, 4):
            x, y = cv.cx + i * cv.fw * 0.55, box[1] + cv.fh * 0.6
            cv.d.ellipse([x - cv.fw * 0.2, y - cv.fh * 0.12, x + cv.fw * 0.2, y + cv.fh * 0.12], fill=cloth2)
    elif costume == "sheep":
        for i in range(-4, 5):
            for j in range(0, 3):
                x, y = cv.cx + i * cv.fw * 0.5, box[1] + cv.fh * (0.15 + 0.45 * j)
                r = cv.fw * 0.3
                cv.d.ellipse([x - r, y - r, x + r, y + r], fill=cloth if (i + j) % 2 else cloth2,
                             outline=(200, 200, 195), width=SS)
    elif costume == "santa":
        cv.d.rectangle([cv.cx - cv.fw * 0.15, box[1], cv.cx + cv.fw * 0.15, cv.n], fill=cloth2)
        cv.d.rounded_rectangle([box[0], box[1], box[2], box[1] + cv.fh * 0.3], radius=int(cv.fw * 0.15), fill=cloth2)
        cv.d.rectangle([box[0], box[1] + cv.fh * 1.1, box[2], box[1] + cv.fh * 1.3], fill=(30, 30, 30))
        cv.d.rectangle([cv.cx - cv.fw * 0.25, box[1] + cv.fh * 1.08, cv.cx + cv.fw * 0.25,
                        box[1] + cv.fh * 1.32], fill=(230, 190, 60))
    elif costume == "royal":
        cv.d.rounded_rectangle([box[0], box[1], box[2], box[1] + cv.fh * 0.35], radius=int(cv.fw * 0.15),
                               fill=(250, 250, 245))
        for i in range(-4, 5):
            x, y = cv.cx + i * cv.fw * 0.45, box[1] + cv.fh * 0.17
            cv.d.ellipse([x - cv.fw * 0.04, y - cv.fh * 0.05, x + cv.fw * 0.04, y + cv.fh * 0.05], fill=(20, 20, 20))
        cv.d.rectangle([cv.cx - cv.fw * 0.12, box[1] + cv.fh * 0.35, cv.cx + cv.fw * 0.12, cv.n], fill=cloth2)


def _hair_back(cv):
    p = cv.p
    if p["hair_style"] == 1:  # long hair behind the head
        cv.d.rounded_rectangle([cv.fx(-1.25), cv.fy(-1.0), cv.fx(1.25), cv.fy(1.35)],
                               radius=int(cv.fw * 0.8), fill=p["hair"])
    elif p["hair_style"] == 3:  # bun
        cv.ell(-0.45, -1.55, 0.45, -0.75, p["hair"])


def _hair_front(cv):
    p = cv.p
    hs = p["hair_style"]
    if hs == 4:  # nearly bald: a thin fringe at the sides
        cv.ell(-1.05, -0.55, -0.8, 0.1, p["hair"])
        cv.ell(0.8, -0.55, 1.05, 0.1, p["hair"])
        return
    cv.d.chord([cv.fx(-1.08), cv.fy(-1.12), cv.fx(1.08), cv.fy(0.05)], 180, 360, fill=p["hair"])
    if hs == 2:  # spiky
        for i in range(-3, 4):
            u = i * 0.28
            cv.poly([(u - 0.18, -0.8), (u + 0.05, -1.35), (u + 0.18, -0.8)], p["hair"])
    if hs in (0, 2, 3):  # fringe
        cv.poly([(-0.95, -0.55), (-0.3, -0.95), (0.4, -0.6), (0.95, -0.5), (0.9, -0.9), (-0.9, -0.9)], p["hair"])


def _headwear(cv, costume):
    if costume == "flower":
        cols = [(240, 90, 150), (250, 200, 40), (240, 120, 60)]
        for k in range(12):
            a = 2 * math.pi * k / 12
            u, v = 1.3 * math.cos(a), 1.2 * math.sin(a)
            cv.ell(u - 0.32, v - 0.28, u + 0.32, v + 0.28, cols[k % 3])
    elif costume == "sheep":
        for k in range(9):
            a = math.pi + math.pi * k / 8
            u, v = 1.05 * math.cos(a), 1.0 * math.sin(a) - 0.05
            cv.ell(u - 0.3, v - 0.3, u + 0.3, v + 0.3, (248, 248, 244), (205, 205, 200), SS)
        cv.ell(-1.45, -0.45, -0.95, -0.15, (70, 60, 60))
        cv.ell(0.95, -0.45, 1.45, -0.15, (70, 60, 60))
    elif costume == "santa":
        cv.poly([(-1.05, -0.6), (0.0, -1.9), (0.75, -1.6), (1.05, -0.6)], (200, 30, 35))
        cv.ell(0.55, -1.85, 0.95, -1.45, (250, 250, 250))
        cv.d.rounded_rectangle([cv.fx(-1.15), cv.fy(-0.85), cv.fx(1.15), cv.fy(-0.5)],
                               radius=int(cv.fw * 0.15), fill=(250, 250, 250))
    elif costume == "royal":
        gold = (235, 190, 50)
        cv.poly([(-0.75, -0.75), (-0.8, -1.45), (-0.45, -1.1), (-0.2, -1.55), (0.0, -1.15),
                 (0.2, -1.55), (0.45, -1.1), (0.8, -1.45), (0.75, -0.75)], gold)
        for u, col in ((-0.4, (200, 30, 40)), (0.0, (40, 90, 200)), (0.4, (40, 160, 70))):
            cv.ell(u - 0.09, -1.0, u + 0.09, -0.83, col)


def _eyes(cv, expr):
    p = cv.p
    g, r = p["eye_gap"], p["eye_r"] * 2.2
    ink = (35, 25, 25)
    for side in (-1, 1):
        u = side * g
        if expr in ("laughing", "crying"):  # closed: arcs
            if expr == "laughing":
                cv.arc(u - r, -0.2, u + r, 0.08, 180, 360, ink, 0.07)
            else:
                cv.arc(u - r, -0.22, u + r, 0.0, 0, 180, ink, 0.07)
            continue
        ry = r * (0.55 if expr == "angry" else 1.35 if expr == "shocked" else 1.0)
        rx = r * (1.2 if expr == "shocked" else 1.0)
        cv.ell(u - rx, -0.08 - ry, u + rx, -0.08 + ry, (255, 255, 255), ink, SS)
        pr = r * (0.35 if expr == "shocked" else 0.6)
        pr_y = min(pr, ry * 0.8)
        cv.ell(u - pr, -0.08 - pr_y, u + pr, -0.08 + pr_y, p["eyes"])
        cv.ell(u - pr * 0.4, -0.08 - pr_y * 0.4, u + pr * 0.4, -0.08 + pr_y * 0.4, (10, 10, 10))


def _brows(cv, expr):
    p = cv.p
    g = p["eye_gap"]
    col = tuple(max(0, int(v * 0.7)) for v in p["hair"])
    for side in (-1, 1):
        inner, outer = side * (g - 0.17), side * (g + 0.2)
        if expr == "angry":
            pts = [(inner, -0.25), (outer, -0.45)]
        elif expr == "shocked":
            pts = [(inner, -0.55), (side * g, -0.62), (outer, -0.55)]
        elif expr == "laughing":
            pts = [(inner, -0.42), (side * g, -0.48), (outer, -0.42)]
        elif expr == "crying":
            pts = [(inner, -0.45), (outer, -0.3)]
        else:
            pts = [(inner, -0.38), (outer, -0.38)]
        cv.line(pts, col, 0.08)


def _glasses(cv):
    p = cv.p
    if not p["glasses"]:
        return
    g, r = p["eye_gap"], p["eye_r"] * 2.2 + 0.1
    for side in (-1, 1):
        u = side * g
        box = [cv.fx(u - r), cv.fy(-0.08 - r * 0.85), cv.fx(u + r), cv.fy(-0.08 + r * 0.85)]
        if p["glasses"] == 1:
            cv.d.ellipse(box, outline=p["glasses_col"], width=int(cv.fw * 0.05))
        else:
            cv.d.rounded_rectangle(box, radius=int(cv.fw * 0.06), outline=p["glasses_col"], width=int(cv.fw * 0.05))
    cv.line([(-g + r, -0.1), (g - r, -0.1)], p["glasses_col"], 0.05)


def _mouth(cv, expr):
    p = cv.p
    w = p["mouth_w"]
    ink, dark = (120, 40, 40), (90, 25, 30)
    if expr == "angry":
        cv.arc(-w, 0.5, w, 0.9, 200, 340, ink, 0.07)
    elif expr == "shocked":
        cv.ell(-w * 0.45, 0.4, w * 0.45, 0.82, dark)
    elif expr == "laughing":
        cv.d.chord([cv.fx(-w * 1.2), cv.fy(0.2), cv.fx(w * 1.2), cv.fy(0.85)], 0, 180, fill=dark)
        cv.d.chord([cv.fx(-w * 0.6), cv.fy(0.52), cv.fx(w * 0.6), cv.fy(0.82)], 0, 180, fill=(230, 90, 100))
        cv.d.rectangle([cv.fx(-w * 1.0), cv.fy(0.525), cv.fx(w * 1.0), cv.fy(0.58)], fill=(250, 250, 250))
    elif expr == "crying":
        cv.line([(-w, 0.72), (-w * 0.5, 0.62), (0, 0.68), (w * 0.5, 0.62), (w, 0.72)], ink, 0.06)
    else:
        cv.arc(-w, 0.35, w, 0.62, 20, 160, ink, 0.06)


def _tears(cv, expr):
    if expr != "crying":
        return
    g = cv.p["eye_gap"]
    for side in (-1, 1):
        u = side * g
        cv.poly([(u - 0.07, 0.0), (u + 0.07, 0.0), (u + 0.09, 0.55), (u - 0.09, 0.55)], (90, 170, 240))
        cv.ell(u - 0.12, 0.45, u + 0.12, 0.68, (90, 170, 240))


def render(p, size=128, expr="neutral", costume=None):
    """One portrait as an RGB uint8 array [size, size, 3]."""
    cv = _Canvas(p, size)
    _background(cv)
    _hair_back(cv)
    if costume == "sheep":  # the fleece sits behind the head
        pass
    _body(cv, costume)
    cv.ell(-1, -1, 1, 1, p["skin"])                  # face
    cv.ell(-1.12, -0.2, -0.9, 0.25, p["skin"])      # ears
    cv.ell(0.9, -0.2, 1.12, 0.25, p["skin"])
    cv.ell(-0.1, 0.12, 0.1, 0.32, tuple(max(0, v - 30) for v in p["skin"]))  # nose
    _hair_front(cv)
    _headwear(cv, costume)
    _eyes(cv, expr)
    _brows(cv, expr)
    _glasses(cv)
    _mouth(cv, expr)
    _tears(cv, expr)
    img = cv.img.resize((size, size), Image.BOX)
    return np.asarray(img, dtype=np.uint8).copy()


def face_box(p, size):
    """The face region [x0, y0, x1, y1] in pixels, used to judge expressions."""
    s = size * p["scale"]
    cx, cy = p["cx"] * size, p["cy"] * size
    fw, fh = p["face_w"] * s, p["face_h"] * s
    box = [cx - fw, cy - fh, cx + fw, cy + fh]
    return [int(max(0, min(size, round(v)))) for v in box]


def render_pair(p, task, direction, size=128):
    """(source, target, mask): the mask is 255 wherever source and target differ."""
    if task == "expressions":
        src = render(p, size, expr="neutral")
        tgt = render(p, size, expr=direction) if direction != "neutral" else src
    else:
        src = render(p, size, costume=None)
        tgt = render(p, size, costume=direction) if direction != "everyday" else src
    mask = (np.abs(src.astype(np.int16) - tgt.astype(np.int16)).max(axis=2) > 0).astype(np.uint8) * 255
    return src, tgt, mask
