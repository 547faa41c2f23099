"""Procedural cartoon portraits, rendered in pairs that differ only by an edit.

An identity (framing, drawing style, skin, face shape, hair, eyes, mouth,
clothes, background) is drawn twice: once as the source and once with the
edit applied. Everything is drawn from the identity's parameters in a fixed
order, so the parts the edit does not touch come out bit-identical, and the
true change mask is simply where the two renders differ.

The renderer is deliberately broad (domain randomisation): a model trained
on one drawing style at one place and scale learns where *this renderer*
puts the eyes and the mouth, not how to find them. So the face is anywhere
in the frame at 30-80% of its width (half the identities near the canonical
framing that `FACE_BOX` declares, since Likeness frames photos that way),
rotated up to 15 degrees, in the drawing styles of STYLE_FAMILIES: outlines
or none, flat, cel-shaded or gradient fills, several eye, mouth, nose, brow,
ear, hair and beard drawings, human and non-human skin, and flat, gradient,
patterned, textured or white backgrounds.

The character is drawn on its own layer (shaded and rotated there) and laid
on the background, supersampled (4x) and box-filtered down for anti-aliased
edges. `render_layers` also returns the character's true silhouette.
"""
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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
SKIN_OTHER = [(140, 200, 110), (120, 170, 230), (180, 140, 220), (170, 170, 175),
              (250, 215, 60), (250, 170, 190), (110, 200, 190)]  # cartoon creatures
HAIR = [(30, 24, 20), (70, 45, 25), (120, 80, 40), (190, 150, 80), (230, 200, 120),
        (160, 60, 30), (120, 120, 125), (200, 200, 205), (40, 40, 90), (150, 40, 90)]
EYES = [(60, 40, 20), (40, 90, 160), (50, 120, 60), (30, 30, 30), (100, 80, 50),
        (150, 60, 150), (200, 60, 60)]
CLOTH = [(200, 50, 50), (50, 90, 200), (60, 150, 80), (230, 180, 40), (120, 60, 160),
         (40, 40, 50), (230, 230, 230), (240, 130, 60), (60, 160, 170), (170, 110, 80)]
BG = [(230, 240, 250), (250, 235, 215), (220, 245, 220), (245, 220, 235), (210, 215, 225),
      (255, 250, 210), (200, 225, 240), (235, 225, 255), (120, 140, 170), (90, 110, 90),
      (60, 60, 80), (180, 150, 120)]

SS = 4  # supersampling factor

# Where the canonical framing puts the face, brows to chin, as fractions of the
# square [x0, y0, x1, y1]: the pack's `face_box` (model contract). Half the
# identities are framed near it; Likeness crops photos so their face lands here.
CANONICAL = {"cx": 0.5, "cy": 0.45, "half_w": 0.235, "aspect": 1.2}
BROW_V = -0.45  # the brow line in face-relative coordinates (see feature_box)


def _canonical_box():
    c = CANONICAL
    hw, hh = c["half_w"], c["half_w"] * c["aspect"]
    return [round(c["cx"] - hw, 4), round(c["cy"] + BROW_V * hh, 4),
            round(c["cx"] + hw, 4), round(c["cy"] + hh, 4)]


FACE_BOX = _canonical_box()

# Drawing styles as data: each family is (name, weight, choices), where
# choices maps a style attribute to {option: weight}; attributes a family does
# not name use DEFAULT_CHOICES. A new style is one row (and, for a new option,
# its drawing code below).
DEFAULT_CHOICES = {
    "outline": {"none": 3, "thin": 2, "thick": 1},
    "fill": {"flat": 4, "cel": 2, "gradient": 2},
    "eyes": {"oval": 4, "dot": 2, "bean": 2, "anime": 2},
    "mouth": {"arc": 4, "line": 2, "small": 2, "lips": 1},
    "nose": {"oval": 3, "dot": 2, "hook": 2, "none": 1, "button": 1},
    "brows": {"line": 4, "thick": 2, "thin": 2},
    "ears": {"round": 6, "none": 2, "pointed": 0.5, "big": 1},
    "face": {"oval": 4, "round": 2, "long": 1, "jaw": 2},
    "hair": {"bob": 3, "long": 2, "spiky": 2, "bun": 1, "bald": 1, "sides": 2, "curly": 2},
    "beard": {"none": 8, "beard": 1, "moustache": 1, "stubble": 1},
    "skin": {"human": 9, "other": 1},
    "bg": {"flat": 3, "gradient": 2, "stripes": 1, "dots": 1, "checks": 1, "texture": 2, "white": 4},
    "glasses": {"none": 6, "round": 2, "square": 2},
}
STYLE_FAMILIES = [
    ("classic", 3, {"outline": {"none": 1}, "fill": {"flat": 3, "gradient": 1}}),
    ("clip-art", 4, {"outline": {"thick": 2, "thin": 1}, "bg": {"white": 5, "flat": 1}}),
    ("cel", 2, {"fill": {"cel": 1}, "outline": {"thin": 2, "thick": 1}}),
    ("anime", 2, {"eyes": {"anime": 1}, "nose": {"dot": 1, "none": 1, "hook": 1},
                  "mouth": {"small": 2, "arc": 1}, "hair": {"long": 2, "sides": 2, "spiky": 1, "bob": 1}}),
    ("soft", 2, {"outline": {"none": 1}, "fill": {"gradient": 1}, "bg": {"texture": 2, "gradient": 1}}),
    ("simple", 2, {"eyes": {"dot": 2, "bean": 2}, "nose": {"none": 1, "dot": 1},
                   "mouth": {"arc": 2, "line": 1}, "brows": {"thin": 1, "line": 1}}),
    ("creature", 1, {"skin": {"other": 1}, "ears": {"pointed": 1, "big": 1, "round": 1}}),
]


def _pick(rng, table):
    keys = list(table)
    w = np.array([table[k] for k in keys], float)
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


def identity(rng):
    """Draw one identity's parameters from a numpy Generator."""
    c = lambda pal: tuple(int(v) for v in np.clip(
        np.array(pal[rng.integers(len(pal))]) + rng.integers(-12, 13, 3), 0, 255))
    fam = STYLE_FAMILIES[int(rng.choice(len(STYLE_FAMILIES),
                                        p=np.array([w for _, w, _ in STYLE_FAMILIES], float)
                                        / sum(w for _, w, _ in STYLE_FAMILIES)))]
    choices = dict(DEFAULT_CHOICES)
    choices.update(fam[2])
    style = {k: _pick(rng, choices[k]) for k in sorted(choices)}
    # Framing: near the canonical box, or anywhere with the face 30-80% of the width.
    if rng.random() < 0.5:
        half_w = CANONICAL["half_w"] * float(rng.uniform(0.88, 1.12))
        cx = CANONICAL["cx"] + float(rng.uniform(-0.04, 0.04))
        cy = CANONICAL["cy"] + float(rng.uniform(-0.04, 0.04))
    else:
        half_w = float(rng.uniform(0.15, 0.40))
        cx = float(rng.uniform(min(0.5, half_w + 0.03), max(0.5, 1 - half_w - 0.03)))
        cy = 0.0  # set below, once the height is known
    aspect = {"oval": 1.2, "round": 1.02, "long": 1.35, "jaw": 1.15}[style["face"]] * float(rng.uniform(0.95, 1.05))
    half_h = half_w * aspect
    if cy == 0.0:  # brows to chin inside the frame
        lo, hi = -BROW_V * half_h + 0.02, 1 - half_h - 0.02
        cy = float(rng.uniform(lo, max(lo, hi)))
    angle = float(rng.uniform(-15, 15)) if rng.random() < 0.6 else 0.0
    skin = c(SKIN if style["skin"] == "human" else SKIN_OTHER)
    return {
        "family": fam[0], "style": style,
        "bg": (250, 250, 250) if style["bg"] == "white" else c(BG), "bg2": c(BG),
        "bg_seed": int(rng.integers(1 << 31)),
        "skin": skin, "hair": c(HAIR), "eyes": c(EYES), "cloth": c(CLOTH),
        "cloth2": c(CLOTH), "cloth_style": int(rng.integers(3)),
        "glasses_col": c([(20, 20, 20), (120, 60, 30), (180, 30, 30), (40, 40, 160)]),
        "ink": c([(30, 22, 22), (20, 20, 30), (60, 35, 30)]),
        "face_w": half_w, "face_h": half_h, "cx": cx, "cy": cy, "angle": angle,
        "eye_gap": float(rng.uniform(0.34, 0.46)), "eye_r": float(rng.uniform(0.07, 0.1)),
        "eye_y": float(rng.uniform(-0.14, 0.0)),
        "mouth_w": float(rng.uniform(0.26, 0.38)), "mouth_y": float(rng.uniform(-0.05, 0.08)),
        "mouth_var": int(rng.integers(2)), "neck": float(rng.uniform(0.3, 0.42)),
        "shoulders": float(rng.uniform(1.9, 2.6)), "light": float(rng.choice([-1.0, 1.0])),
    }


class _Canvas:
    """The character layer (RGBA, transparent), in face-relative coordinates."""

    def __init__(self, p, size):
        self.p, self.n = p, size * SS
        self.img = Image.new("RGBA", (self.n, self.n), (0, 0, 0, 0))
        self.d = ImageDraw.Draw(self.img)
        self.cx, self.cy = p["cx"] * self.n, p["cy"] * self.n
        self.fw, self.fh = p["face_w"] * self.n, p["face_h"] * self.n
        st = p["style"]
        w = {"none": 0, "thin": 0.025, "thick": 0.05}[st["outline"]]
        self.ow = max(SS, int(w * self.fw)) if w else 0
        self.ink = p["ink"]

    def fx(self, u):  # face-relative coordinates: u,v in [-1,1] over the face ellipse
        return self.cx + u * self.fw

    def fy(self, v):
        return self.cy + v * self.fh

    def box(self, u0, v0, u1, v1):
        return [self.fx(u0), self.fy(v0), self.fx(u1), self.fy(v1)]

    def _ol(self, o):
        return (self.ink, self.ow) if (o and self.ow) else (None, 0)

    def ell(self, u0, v0, u1, v1, fill, outline=None, width=0, o=False):
        if o and self.ow:
            outline, width = self.ink, self.ow
        self.d.ellipse(self.box(u0, v0, u1, v1), fill=fill, outline=outline, width=int(width))

    def poly(self, pts, fill, o=False):
        ol, w = self._ol(o)
        xy = [(self.fx(u), self.fy(v)) for u, v in pts]
        if ol:
            self.d.polygon(xy, fill=fill, outline=ol, width=w)
        else:
            self.d.polygon(xy, fill=fill)

    def rrect(self, xy, radius, fill, o=False):
        ol, w = self._ol(o)
        self.d.rounded_rectangle(xy, radius=max(0, int(radius)), fill=fill, outline=ol, width=w)

    def line(self, pts, fill, width):
        self.d.line([(self.fx(u), self.fy(v)) for u, v in pts], fill=fill,
                    width=max(1, int(width * self.fw)), joint="curve")

    def arc(self, u0, v0, u1, v1, start, end, fill, width):
        self.d.arc(self.box(u0, v0, u1, v1), start, end, fill=fill, width=max(1, int(width * self.fw)))

    def chord(self, u0, v0, u1, v1, start, end, fill, o=False):
        ol, w = self._ol(o)
        self.d.chord(self.box(u0, v0, u1, v1), start, end, fill=fill, outline=ol, width=w)


def _background(p, n):
    """The background at supersampled size n, from the identity alone."""
    st = p["style"]["bg"]
    a, b = np.array(p["bg"], float), np.array(p["bg2"], float)
    if st in ("flat", "white"):
        return Image.new("RGB", (n, n), p["bg"])
    if st == "gradient":
        t = np.linspace(0, 1, n)[:, None, None]
        arr = a + (b - a) * t * np.ones((1, n, 1))
        return Image.fromarray(arr.astype(np.uint8))
    img = Image.new("RGB", (n, n), p["bg"])
    d = ImageDraw.Draw(img)
    if st == "stripes":
        for x in range(0, n, n // 8):
            d.rectangle([x, 0, x + n // 16, n], fill=p["bg2"])
    elif st == "dots":
        step = n // 7
        for i in range(8):
            for j in range(8):
                x, y = i * step + (step // 2 if j % 2 else 0), j * step
                d.ellipse([x - step // 5, y - step // 5, x + step // 5, y + step // 5], fill=p["bg2"])
    elif st == "checks":
        step = n // 6
        for i in range(6):
            for j in range(6):
                if (i + j) % 2:
                    d.rectangle([i * step, j * step, (i + 1) * step, (j + 1) * step], fill=p["bg2"])
    elif st == "texture":  # photo-like: blurry colour blobs plus grain
        rng = np.random.default_rng(p["bg_seed"])
        k = 5
        cols = np.array([p["bg"], p["bg2"]], float)[rng.integers(2, size=(k, k))]
        cols += rng.normal(0, 18, cols.shape)
        low = Image.fromarray(np.clip(cols, 0, 255).astype(np.uint8)).resize((n, n), Image.BICUBIC)
        low = low.filter(ImageFilter.GaussianBlur(n / 24))
        grain = rng.normal(0, 6, (n // SS, n // SS, 1))
        grain = np.repeat(np.repeat(grain, SS, 0), SS, 1)
        img = Image.fromarray(np.clip(np.asarray(low, float) + grain, 0, 255).astype(np.uint8))
    return img


def _body(cv, costume):
    p = cv.p
    top = cv.fy(0.85)
    sh = cv.fw * p["shoulders"]
    cloth, cloth2 = p["cloth"], p["cloth2"]
    if costume == "flower":
        cloth, cloth2 = (70, 165, 70), (40, 120, 50)
    elif costume == "sheep":
        cloth, cloth2 = (245, 245, 240), (225, 225, 220)
    elif costume == "santa":
        cloth, cloth2 = (200, 30, 35), (250, 250, 250)
    elif costume == "royal":
        cloth, cloth2 = (110, 40, 150), (230, 190, 60)
    nw = p["neck"] * cv.fw
    cv.d.rectangle([cv.cx - nw, cv.fy(0.6), cv.cx + nw, top + cv.fh * 0.3], fill=p["skin"])
    # The body runs past the bottom of the frame however small the face is.
    box = [cv.cx - sh, top + cv.fh * 0.15, cv.cx + sh, max(cv.n * 1.3, top + cv.fh * 6)]
    cv.rrect(box, cv.fw * 0.7, cloth, o=True)
    if costume is None:
        if p["cloth_style"] == 1:  # stripes
            y = box[1] + cv.fh * 0.2
            while y < cv.n:
                cv.d.rectangle([box[0] + cv.fw * 0.15, y, box[2] - cv.fw * 0.15, y + cv.fh * 0.08],
                               fill=cloth2)
                y += cv.fh * 0.22
        elif p["cloth_style"] == 2:  # dots
            for i in range(-3, 4):
                for j in range(0, 8):
                    x, y = cv.cx + i * cv.fw * 0.55, box[1] + cv.fh * (0.35 + 0.4 * j)
                    r = cv.fw * 0.09
                    cv.d.ellipse([x - r, y - r, x + r, y + r], fill=cloth2)
        cv.d.polygon([(cv.cx - nw * 1.6, box[1]), (cv.cx, box[1] + cv.fh * 0.35),
                      (cv.cx + nw * 1.6, box[1])], fill=p["skin"])
    elif costume == "flower":
        for j in range(0, 4):
            for i in range(-3, 4):
                x, y = cv.cx + i * cv.fw * 0.55, box[1] + cv.fh * (0.6 + 0.9 * j)
                cv.d.ellipse([x - cv.fw * 0.2, y - cv.fh * 0.12, x + cv.fw * 0.2, y + cv.fh * 0.12], fill=cloth2)
    elif costume == "sheep":
        for i in range(-4, 5):
            for j in range(0, 7):
                x, y = cv.cx + i * cv.fw * 0.5, box[1] + cv.fh * (0.15 + 0.45 * j)
                r = cv.fw * 0.3
                cv.d.ellipse([x - r, y - r, x + r, y + r], fill=cloth if (i + j) % 2 else cloth2,
                             outline=(200, 200, 195), width=SS)
    elif costume == "santa":
        cv.d.rectangle([cv.cx - cv.fw * 0.15, box[1], cv.cx + cv.fw * 0.15, box[3]], fill=cloth2)
        cv.rrect([box[0], box[1], box[2], box[1] + cv.fh * 0.3], cv.fw * 0.15, cloth2, o=True)
        cv.d.rectangle([box[0], box[1] + cv.fh * 1.1, box[2], box[1] + cv.fh * 1.3], fill=(30, 30, 30))
        cv.d.rectangle([cv.cx - cv.fw * 0.25, box[1] + cv.fh * 1.08, cv.cx + cv.fw * 0.25,
                        box[1] + cv.fh * 1.32], fill=(230, 190, 60))
    elif costume == "royal":
        cv.rrect([box[0], box[1], box[2], box[1] + cv.fh * 0.35], cv.fw * 0.15, (250, 250, 245), o=True)
        for i in range(-4, 5):
            x, y = cv.cx + i * cv.fw * 0.45, box[1] + cv.fh * 0.17
            cv.d.ellipse([x - cv.fw * 0.04, y - cv.fh * 0.05, x + cv.fw * 0.04, y + cv.fh * 0.05], fill=(20, 20, 20))
        cv.d.rectangle([cv.cx - cv.fw * 0.12, box[1] + cv.fh * 0.35, cv.cx + cv.fw * 0.12, box[3]], fill=cloth2)


def _hair_back(cv):
    p, hs = cv.p, cv.p["style"]["hair"]
    if hs in ("long", "sides"):  # long hair behind the head
        cv.rrect(cv.box(-1.25, -1.0, 1.25, 1.35 if hs == "long" else 1.7), cv.fw * 0.8, p["hair"], o=True)
    elif hs == "bun":
        cv.ell(-0.45, -1.55, 0.45, -0.75, p["hair"], o=True)
    elif hs == "curly":
        for k in range(11):
            a = math.pi + math.pi * k / 10
            cv.ell(1.0 * math.cos(a) - 0.3, 1.0 * math.sin(a) - 0.05 - 0.3,
                   1.0 * math.cos(a) + 0.3, 1.0 * math.sin(a) - 0.05 + 0.3, p["hair"], o=True)


def _face(cv):
    p, st = cv.p, cv.p["style"]
    skin = p["skin"]
    ears = st["ears"]
    if ears == "round":
        cv.ell(-1.12, -0.2, -0.9, 0.25, skin, o=True)
        cv.ell(0.9, -0.2, 1.12, 0.25, skin, o=True)
    elif ears == "big":
        cv.ell(-1.3, -0.35, -0.85, 0.3, skin, o=True)
        cv.ell(0.85, -0.35, 1.3, 0.3, skin, o=True)
    elif ears == "pointed":
        cv.poly([(-0.9, -0.1), (-1.45, -0.65), (-0.95, 0.25)], skin, o=True)
        cv.poly([(0.9, -0.1), (1.45, -0.65), (0.95, 0.25)], skin, o=True)
    if st["face"] == "jaw":  # a wider, squarer jaw under the oval
        cv.ell(-1, -1, 1, 0.6, skin, o=True)
        cv.rrect(cv.box(-0.95, -0.2, 0.95, 1.0), cv.fw * 0.45, skin, o=True)
        cv.d.rectangle(cv.box(-0.95 + 0.06, -0.3, 0.95 - 0.06, 0.5), fill=skin)  # hide the seam
    else:
        cv.ell(-1, -1, 1, 1, skin, o=True)


def _beard(cv):
    p, b = cv.p, cv.p["style"]["beard"]
    col = tuple(max(0, int(v * 0.85)) for v in p["hair"])
    my = p["mouth_y"]
    if b == "beard":
        cv.chord(-1.0, -0.4 + my, 1.0, 1.12, 0, 180, col, o=True)
        cv.ell(-0.5, 0.38 + my, 0.5, 0.78 + my, p["skin"])  # the mouth's patch of skin
    elif b == "stubble":
        c2 = tuple(int(0.75 * s + 0.25 * h) for s, h in zip(p["skin"], col))
        cv.chord(-0.98, -0.2 + my, 0.98, 1.0, 0, 180, c2)
    elif b == "moustache":
        w = p["mouth_w"]
        cv.poly([(-w * 1.3, 0.42 + my), (-w * 0.2, 0.3 + my), (0, 0.34 + my), (w * 0.2, 0.3 + my),
                 (w * 1.3, 0.42 + my), (w * 0.3, 0.4 + my), (0, 0.43 + my), (-w * 0.3, 0.4 + my)], col)


def _nose(cv):
    p, n = cv.p, cv.p["style"]["nose"]
    dark = tuple(max(0, v - 30) for v in p["skin"])
    if n == "oval":
        cv.ell(-0.1, 0.12, 0.1, 0.32, dark)
    elif n == "dot":
        cv.ell(-0.04, 0.24, 0.04, 0.3, dark)
    elif n == "hook":
        cv.line([(0.02, 0.05), (0.1, 0.27), (-0.04, 0.3)], dark, 0.035)
    elif n == "button":
        cv.ell(-0.12, 0.14, 0.12, 0.34, dark, o=True)
        cv.ell(-0.06, 0.17, 0.0, 0.22, (255, 255, 255))


def _hair_front(cv):
    p, hs = cv.p, cv.p["style"]["hair"]
    if hs == "bald":  # nearly bald: a thin fringe at the sides
        cv.ell(-1.05, -0.55, -0.8, 0.1, p["hair"])
        cv.ell(0.8, -0.55, 1.05, 0.1, p["hair"])
        return
    if hs == "curly":
        cv.chord(-1.05, -1.12, 1.05, -0.25, 180, 360, p["hair"])
        return
    cv.chord(-1.08, -1.12, 1.08, 0.05, 180, 360, p["hair"], o=True)
    if hs == "spiky":
        for i in range(-3, 4):
            u = i * 0.28
            cv.poly([(u - 0.18, -0.8), (u + 0.05, -1.35), (u + 0.18, -0.8)], p["hair"], o=True)
    if hs in ("bob", "spiky", "bun"):  # fringe
        cv.poly([(-0.95, -0.55), (-0.3, -0.95), (0.4, -0.6), (0.95, -0.5), (0.9, -0.9), (-0.9, -0.9)], p["hair"])
    if hs == "sides":  # long strands over the face's sides, clear of the eyes
        cv.poly([(-1.1, -0.6), (-0.55, -0.75), (-0.75, -0.2), (-0.78, 0.9), (-1.1, 1.3)], p["hair"], o=True)
        cv.poly([(1.1, -0.6), (0.55, -0.75), (0.75, -0.2), (0.78, 0.9), (1.1, 1.3)], p["hair"], o=True)


def _headwear(cv, costume):
    if costume == "flower":
        cols = [(240, 90, 150), (250, 200, 40), (240, 120, 60)]
        for k in range(12):
            a = 2 * math.pi * k / 12
            u, v = 1.3 * math.cos(a), 1.2 * math.sin(a)
            cv.ell(u - 0.32, v - 0.28, u + 0.32, v + 0.28, cols[k % 3], o=True)
    elif costume == "sheep":
        for k in range(9):
            a = math.pi + math.pi * k / 8
            u, v = 1.05 * math.cos(a), 1.0 * math.sin(a) - 0.05
            cv.ell(u - 0.3, v - 0.3, u + 0.3, v + 0.3, (248, 248, 244), (205, 205, 200), SS)
        cv.ell(-1.45, -0.45, -0.95, -0.15, (70, 60, 60), o=True)
        cv.ell(0.95, -0.45, 1.45, -0.15, (70, 60, 60), o=True)
    elif costume == "santa":
        cv.poly([(-1.05, -0.6), (0.0, -1.9), (0.75, -1.6), (1.05, -0.6)], (200, 30, 35), o=True)
        cv.ell(0.55, -1.85, 0.95, -1.45, (250, 250, 250), o=True)
        cv.rrect(cv.box(-1.15, -0.85, 1.15, -0.5), cv.fw * 0.15, (250, 250, 250), o=True)
    elif costume == "royal":
        gold = (235, 190, 50)
        cv.poly([(-0.75, -0.75), (-0.8, -1.45), (-0.45, -1.1), (-0.2, -1.55), (0.0, -1.15),
                 (0.2, -1.55), (0.45, -1.1), (0.8, -1.45), (0.75, -0.75)], gold, o=True)
        for u, col in ((-0.4, (200, 30, 40)), (0.0, (40, 90, 200)), (0.4, (40, 160, 70))):
            cv.ell(u - 0.09, -1.0, u + 0.09, -0.83, col)


def _lid(cv, side, u, ey, rx, ry):
    """An angry eye's lid: skin over the eye's inner top, slanting down inwards."""
    inner = -side  # towards the nose
    cv.poly([(u - rx * 1.3, ey - ry * 1.6), (u + rx * 1.3, ey - ry * 1.6),
             (u + rx * 1.3, ey - ry * (0.1 if inner > 0 else 0.9)),
             (u - rx * 1.3, ey - ry * (0.1 if inner < 0 else 0.9))], cv.p["skin"])
    cv.line([(u - rx * 1.1, ey - ry * (0.15 if inner < 0 else 0.85)),
             (u + rx * 1.1, ey - ry * (0.15 if inner > 0 else 0.85))], cv.ink, 0.05)


def _eyes(cv, expr):
    p, st = cv.p, cv.p["style"]["eyes"]
    g, r, ey = p["eye_gap"], p["eye_r"] * 2.2, p["eye_y"] - 0.08
    ink = cv.ink
    if st == "anime":
        r *= 1.3
    for side in (-1, 1):
        u = side * g
        if expr in ("laughing", "crying"):  # closed: arcs
            w = 0.09 if st == "anime" else 0.07
            if expr == "laughing":
                cv.arc(u - r, ey - 0.12, u + r, ey + 0.16, 180, 360, ink, w)
            else:
                cv.arc(u - r, ey - 0.14, u + r, ey + 0.08, 0, 180, ink, w)
            continue
        if st in ("dot", "bean"):
            rx = r * (0.45 if st == "dot" else 0.38)
            ry = rx * (1.0 if st == "dot" else 1.7)
            if expr == "shocked":  # a white ring round a small dot
                cv.ell(u - r * 0.95, ey - r * 1.15, u + r * 0.95, ey + r * 1.15, (255, 255, 255), ink, SS)
                rx, ry = rx * 0.6, ry * 0.6
            cv.ell(u - rx, ey - ry, u + rx, ey + ry, ink)
            if expr == "angry":
                _lid(cv, side, u, ey, max(rx, r * 0.5), max(ry, r * 0.5))
            continue
        ry = r * (1.35 if expr == "shocked" else 1.0) * (1.2 if st == "anime" else 1.0)
        rx = r * (1.2 if expr == "shocked" else 1.0)
        cv.ell(u - rx, ey - ry, u + rx, ey + ry, (255, 255, 255), ink, SS)
        pr = r * (0.35 if expr == "shocked" else 0.75 if st == "anime" else 0.6)
        pr_y = min(pr * (1.3 if st == "anime" else 1.0), ry * 0.85)
        cv.ell(u - pr, ey - pr_y, u + pr, ey + pr_y, p["eyes"])
        cv.ell(u - pr * 0.45, ey - pr_y * 0.45, u + pr * 0.45, ey + pr_y * 0.45, (10, 10, 10))
        if st == "anime":  # glossy highlights and lashes
            cv.ell(u - pr * 0.6, ey - pr_y * 0.7, u - pr * 0.1, ey - pr_y * 0.2, (255, 255, 255))
            cv.ell(u + pr * 0.15, ey + pr_y * 0.25, u + pr * 0.4, ey + pr_y * 0.5, (255, 255, 255))
            cv.arc(u - rx * 1.05, ey - ry * 1.05, u + rx * 1.05, ey + ry * 1.05, 195, 345, ink, 0.06)
            cv.line([(u + side * rx * 0.9, ey - ry * 0.7), (u + side * rx * 1.3, ey - ry * 1.0)], ink, 0.035)
        if expr == "angry":
            _lid(cv, side, u, ey, rx, ry)


def _brows(cv, expr):
    p, st = cv.p, cv.p["style"]["brows"]
    g, ey = p["eye_gap"], p["eye_y"]
    col = tuple(max(0, int(v * 0.7)) for v in p["hair"])
    w = {"line": 0.08, "thick": 0.13, "thin": 0.045}[st]
    for side in (-1, 1):
        inner, outer = side * (g - 0.17), side * (g + 0.2)
        if expr == "angry":
            pts = [(inner, -0.22), (outer, -0.45)]
        elif expr == "shocked":
            pts = [(inner, -0.55), (side * g, -0.64), (outer, -0.55)]
        elif expr == "laughing":
            pts = [(inner, -0.42), (side * g, -0.48), (outer, -0.42)]
        elif expr == "crying":
            pts = [(inner, -0.47), (outer, -0.3)]
        else:
            pts = [(inner, -0.38), (outer, -0.38)]
        cv.line([(u, v + ey) for u, v in pts], col, w)


def _glasses(cv):
    p, gl = cv.p, cv.p["style"]["glasses"]
    if gl == "none":
        return
    g, r, ey = p["eye_gap"], p["eye_r"] * 2.2 + 0.1, p["eye_y"] - 0.08
    for side in (-1, 1):
        u = side * g
        box = [cv.fx(u - r), cv.fy(ey - r * 0.85), cv.fx(u + r), cv.fy(ey + r * 0.85)]
        if gl == "round":
            cv.d.ellipse(box, outline=p["glasses_col"], width=int(cv.fw * 0.05))
        else:
            cv.d.rounded_rectangle(box, radius=int(cv.fw * 0.06), outline=p["glasses_col"], width=int(cv.fw * 0.05))
    cv.line([(-g + r, ey - 0.02), (g - r, ey - 0.02)], p["glasses_col"], 0.05)


def _mouth(cv, expr):
    p, st = cv.p, cv.p["style"]["mouth"]
    w, my, var = p["mouth_w"], p["mouth_y"], p["mouth_var"]
    ink, dark = (120, 40, 40), (90, 25, 30)
    if st in ("line", "small") or cv.ow:
        ink = cv.ink
    if expr == "angry":
        if var:  # gritted teeth
            cv.rrect(cv.box(-w * 0.8, 0.52 + my, w * 0.8, 0.72 + my), cv.fw * 0.05, (250, 250, 250), o=False)
            cv.d.rounded_rectangle(cv.box(-w * 0.8, 0.52 + my, w * 0.8, 0.72 + my), radius=int(cv.fw * 0.05),
                                   outline=ink, width=max(SS, int(0.03 * cv.fw)))
            cv.line([(-w * 0.8, 0.62 + my), (w * 0.8, 0.62 + my)], ink, 0.025)
            for k in (-0.4, 0.0, 0.4):
                cv.line([(w * k, 0.52 + my), (w * k, 0.72 + my)], ink, 0.02)
        else:
            cv.arc(-w, 0.5 + my, w, 0.9 + my, 200, 340, ink, 0.07)
    elif expr == "shocked":
        s = 0.45 if var else 0.6
        cv.ell(-w * s, 0.38 + my, w * s, 0.84 + my, dark, o=True)
        if not var:
            cv.chord(-w * 0.35, 0.62 + my, w * 0.35, 0.88 + my, 180, 360, (230, 90, 100))
    elif expr == "laughing":
        cv.chord(-w * 1.2, 0.2 + my, w * 1.2, 0.85 + my, 0, 180, dark, o=True)
        cv.chord(-w * 0.6, 0.52 + my, w * 0.6, 0.82 + my, 0, 180, (230, 90, 100))
        if var:
            cv.d.rectangle(cv.box(-w * 1.0, 0.525 + my, w * 1.0, 0.58 + my), fill=(250, 250, 250))
    elif expr == "crying":
        if var:  # wailing: an open frown
            cv.chord(-w * 0.8, 0.55 + my, w * 0.8, 1.0 + my, 180, 360, dark, o=True)
        else:
            cv.line([(-w, 0.72 + my), (-w * 0.5, 0.62 + my), (0, 0.68 + my), (w * 0.5, 0.62 + my),
                     (w, 0.72 + my)], ink, 0.06)
    else:  # neutral, in the identity's own mouth drawing
        if st == "arc":
            cv.arc(-w, 0.35 + my, w, 0.62 + my, 20, 160, ink, 0.06)
        elif st == "line":
            cv.line([(-w * 0.6, 0.6 + my), (w * 0.6, 0.6 + my)], ink, 0.05)
        elif st == "small":
            cv.arc(-w * 0.5, 0.45 + my, w * 0.5, 0.62 + my, 20, 160, ink, 0.05)
        else:  # lips
            lip = tuple(int(0.5 * a + 0.5 * b) for a, b in zip(p["skin"], (200, 70, 90)))
            cv.chord(-w * 0.8, 0.45 + my, w * 0.8, 0.75 + my, 0, 360, lip, o=True)
            cv.line([(-w * 0.75, 0.6 + my), (w * 0.75, 0.6 + my)], dark, 0.025)


def _tears(cv, expr):
    if expr != "crying":
        return
    g, ey = cv.p["eye_gap"], cv.p["eye_y"]
    for side in (-1, 1):
        u = side * g
        cv.poly([(u - 0.07, ey), (u + 0.07, ey), (u + 0.09, ey + 0.55), (u - 0.09, ey + 0.55)], (90, 170, 240))
        cv.ell(u - 0.12, ey + 0.45, u + 0.12, ey + 0.68, (90, 170, 240))


def _shade(p, layer, n):
    """Cel or gradient shading of the character layer: a function of position
    only, so what the edit does not touch stays bit-identical."""
    fill = p["style"]["fill"]
    if fill == "flat":
        return layer
    arr = np.asarray(layer).astype(np.float32)
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
    cx, cy, fw = p["cx"] * n, p["cy"] * n, p["face_w"] * n
    if fill == "cel":  # a hard-edged shadow on the side away from the light
        k = np.where(p["light"] * (xs - cx) + 0.35 * (ys - cy) > 0.45 * fw, 0.8, 1.0)
    else:  # a soft light from above and one side
        k = 1.12 - 0.28 * np.clip((p["light"] * (xs - cx) + (ys - cy)) / (3 * fw) + 0.5, 0, 1)
    arr[..., :3] = np.clip(arr[..., :3] * k[..., None], 0, 255)
    return Image.fromarray(arr.astype(np.uint8), "RGBA")


def render_layers(p, size=128, expr="neutral", costume=None):
    """(rgb uint8 [size, size, 3], alpha uint8 [size, size]): the portrait and
    the character's silhouette (255 on the character, 0 on the background)."""
    cv = _Canvas(p, size)
    _hair_back(cv)
    _body(cv, costume)
    _face(cv)
    _beard(cv)
    _nose(cv)
    _hair_front(cv)
    _headwear(cv, costume)
    _eyes(cv, expr)
    _brows(cv, expr)
    _glasses(cv)
    _mouth(cv, expr)
    _tears(cv, expr)
    layer = _shade(p, cv.img, cv.n)
    if p["angle"]:
        layer = layer.convert("RGBa").rotate(p["angle"], resample=Image.BILINEAR,
                                             center=(cv.cx, cv.cy)).convert("RGBA")
    bg = _background(p, cv.n)
    bg.paste(layer, (0, 0), layer)
    img = bg.resize((size, size), Image.BOX)
    alpha = layer.getchannel("A").resize((size, size), Image.BOX)
    return np.asarray(img, dtype=np.uint8).copy(), np.asarray(alpha, dtype=np.uint8).copy()


def render(p, size=128, expr="neutral", costume=None):
    """One portrait as an RGB uint8 array [size, size, 3]."""
    return render_layers(p, size, expr, costume)[0]


def _rotated_box(p, u0, v0, u1, v1):
    """Axis-aligned box, as fractions, of a face-relative box after the rotation."""
    a = math.radians(-p["angle"])  # PIL rotates counter-clockwise in image coordinates
    pts = []
    for u, v in ((u0, v0), (u1, v0), (u0, v1), (u1, v1)):
        dx, dy = u * p["face_w"], v * p["face_h"]
        pts.append((p["cx"] + dx * math.cos(a) - dy * math.sin(a),
                    p["cy"] + dx * math.sin(a) + dy * math.cos(a)))
    xs, ys = [q[0] for q in pts], [q[1] for q in pts]
    return [min(xs), min(ys), max(xs), max(ys)]


def face_box(p, size):
    """The face region [x0, y0, x1, y1] in pixels (the whole face oval), used to
    judge expressions."""
    return [int(max(0, min(size, round(v * size)))) for v in _rotated_box(p, -1, -1, 1, 1)]


def feature_box(p):
    """Where the face is, brows to chin and cheek to cheek, as fractions of
    the square: what the pack's `face_box` and the face locator mean."""
    return [float(v) for v in _rotated_box(p, -1, BROW_V, 1, 1)]


def feature_regions(p, size):
    """Pixel boxes [x0, y0, x1, y1] of the eyes (both) and of the mouth, in the
    same sense as the external set's TSV (where edits are meant to land)."""
    g, r, ey = p["eye_gap"], p["eye_r"] * 2.2 * (1.3 if p["style"]["eyes"] == "anime" else 1), p["eye_y"] - 0.08
    w, my = p["mouth_w"], p["mouth_y"]
    eyes = _rotated_box(p, -g - r * 1.3, ey - 0.6, g + r * 1.3, ey + r * 1.6)
    mouth = _rotated_box(p, -w * 1.25, 0.3 + my, w * 1.25, 0.95 + my)
    px = lambda b: [int(max(0, min(size, round(v * size)))) for v in b]
    return px(eyes), px(mouth)


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
