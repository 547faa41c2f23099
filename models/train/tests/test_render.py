import json
import os

import numpy as np
import pytest

from likeness_train import data, render


@pytest.mark.parametrize("task", sorted(render.TASKS))
def test_pairs_differ_only_inside_their_mask(task):
    for i in range(6):
        p = data.identity(data.TRAIN_SEED, i)
        for d in render.TASKS[task]["directions"]:
            src, tgt, mask = render.render_pair(p, task, d, 64)
            outside = mask == 0
            assert np.array_equal(src[outside], tgt[outside]), (task, d, i)
            frac = (mask > 0).mean()
            # an edit changes something, and never the whole picture
            assert 0.005 < frac < 0.6, (task, d, i, frac)


def test_render_is_deterministic_and_seeds_differ():
    a = render.render(data.identity(data.TRAIN_SEED, 3), 64, expr="angry")
    b = render.render(data.identity(data.TRAIN_SEED, 3), 64, expr="angry")
    c = render.render(data.identity(data.TEST_SEED, 3), 64, expr="angry")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_held_out_seeds_never_meet_training():
    train = {json.dumps(data.identity(data.TRAIN_SEED, i), sort_keys=True) for i in range(300)}
    for seed in (data.VAL_SEED, data.TEST_SEED, data.SAMPLE_SEED):
        for i in range(100):
            assert json.dumps(data.identity(seed, i), sort_keys=True) not in train


def test_pairs_folder_round_trip_and_resume(tmp_path):
    n = data.write_pairs(str(tmp_path), "expressions", 7, 2, 48, split="val")
    assert n == 8
    recs = data.read_pairs(str(tmp_path))
    assert [r["direction"] for r in recs[:4]] == render.TASKS["expressions"]["directions"]
    for r in recs:
        src, tgt = data.load_rgb(r["source"]), data.load_rgb(r["target"])
        m = data.load_rgb(r["mask"])[..., 0]
        assert src.shape == (48, 48, 3)
        assert np.array_equal(src[m == 0], tgt[m == 0])
        x0, y0, x1, y1 = r["face_box"]
        assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
    # a rerun keeps what is there and writes the same index
    stamp = os.path.getmtime(recs[0]["target"])
    before = (tmp_path / "index.jsonl").read_text()
    data.write_pairs(str(tmp_path), "expressions", 7, 2, 48, split="val")
    assert os.path.getmtime(recs[0]["target"]) == stamp
    assert (tmp_path / "index.jsonl").read_text() == before


def test_bad_index_line_names_the_file(tmp_path):
    (tmp_path / "index.jsonl").write_text('{"source": "a.png", "target": "b.png"}\nnot json\n')
    with pytest.raises(ValueError, match="index.jsonl:2"):
        data.read_pairs(str(tmp_path))


def test_broad_framing_and_styles():
    """Faces from 30% to 80% of the width, anywhere, rotated; every style
    family and every option of the style table drawn."""
    widths, centres, angles = [], [], []
    fams, opts = set(), {k: set() for k in render.DEFAULT_CHOICES}
    for i in range(400):
        p = data.identity(data.TRAIN_SEED, i)
        x0, y0, x1, y1 = render.feature_box(p)
        widths.append(2 * p["face_w"])
        centres.append(((x0 + x1) / 2, (y0 + y1) / 2))
        angles.append(p["angle"])
        fams.add(p["family"])
        for k, v in p["style"].items():
            opts[k].add(v)
        # brows to chin stays inside the frame (up to the rotation's corners)
        assert -0.05 < y0 and y1 < 1.05, (i, x0, y0, x1, y1)
    assert min(widths) < 0.33 and max(widths) > 0.75
    assert 0.29 <= min(widths) and max(widths) <= 0.81
    xs = [c[0] for c in centres]
    assert min(xs) < 0.3 and max(xs) > 0.7  # not only the centre
    assert min(angles) < -10 and max(angles) > 10
    assert fams == {f[0] for f in render.STYLE_FAMILIES}
    for k, table in render.DEFAULT_CHOICES.items():
        assert opts[k] == set(table), (k, set(table) - opts[k])


def test_silhouette_covers_the_character():
    p = data.identity(data.TRAIN_SEED, 5)
    rgb, alpha = render.render_layers(p, 64)
    assert np.array_equal(rgb, render.render(p, 64))
    assert alpha.shape == (64, 64)
    # the face's centre is on the character, and some of the frame is background
    x0, y0, x1, y1 = render.feature_box(p)
    assert alpha[int((y0 + y1) / 2 * 64), int((x0 + x1) / 2 * 64)] == 255
    assert (alpha == 0).mean() > 0.05


def test_feature_regions_hold_the_change():
    """Most of an expression edit lands on the eye and mouth regions that
    feature_regions gives (the external set's scoring boxes, for renders)."""
    shares = []
    for i in range(20):
        p = data.identity(data.VAL_SEED, i)
        (ex0, ey0, ex1, ey1), (mx0, my0, mx1, my1) = render.feature_regions(p, 128)
        for d in render.TASKS["expressions"]["directions"]:
            _, _, mask = render.render_pair(p, "expressions", d, 128)
            on = np.zeros_like(mask, bool)
            on[ey0:ey1, ex0:ex1] = True
            on[my0:my1, mx0:mx1] = True
            ch = mask > 0
            shares.append((ch & on).sum() / max(1, ch.sum()))
    assert np.mean(shares) > 0.8, np.mean(shares)
