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
