"""The pairs folder `likeness pairs` writes (Go: engine/pairsfolder.go) is
read by the trainer, and `train --pairs` trains the micro MCDM on it.

testdata/sd_pairs is written by the Go generator from the analytic sd pack
at 64 pixels; regenerate it with
`go test ./engine -run TestTrainerFixture -update` (that test also fails
when the generator's output drifts from the fixture)."""
import json
import os

import numpy as np
import torch
from PIL import Image

from conftest import ROOT, run_module
from likeness_train import data, train

FIXTURE = os.path.join(ROOT, "tests", "testdata", "sd_pairs")


def test_read_pairs_loads_the_go_folder():
    recs = data.read_pairs(FIXTURE)
    assert len(recs) == 4
    for i, r in enumerate(recs):
        assert r["task"] == "sd" and r["direction"] == "angry" and r["index"] == i
        assert r["mask_kind"] == "difference" and r["split"] == "train"
        assert r["source_text"] == "neutral expression" and r["target_text"] == "angry"
        assert r["generator"]["prompts"] == ["the same person on the left and right",
                                             "a person, neutral expression", "a person, angry"]
        x0, y0, x1, y1 = r["face_box"]
        assert 0 <= x0 < x1 <= r["size"] and 0 <= y0 < y1 <= r["size"]
        src, tgt = data.load_rgb(r["source"]), data.load_rgb(r["target"])
        assert src.shape == tgt.shape == (r["size"], r["size"], 3)
        diff = np.asarray(Image.open(r["mask"]))
        assert diff.shape == (r["size"], r["size"])
        # the mask file is the per-pixel difference map max |x_A - x_B|
        want = np.abs(src.astype(int) - tgt.astype(int)).max(axis=2)
        assert np.array_equal(diff, want)
        assert diff.max() > 0, "source and target are identical"
    assert len({data.load_rgb(r["source"]).tobytes() for r in recs}) == 4, "pairs repeat"


def test_pairs_latent_set_prompts(micro_ae):
    ae, scale, ck = train.load_ae(micro_ae)
    ds = train.PairsLatentSet(FIXTURE, ae, scale, ck["config"]["resolution"])
    assert ds.texts == ["neutral expression", "angry"]
    assert ds.prompt_index.tolist() == [[0, 1]] * 4
    assert tuple(ds.lat.shape[:2]) == (4, 2) and ds.px.shape[0] == 4
    assert ds.spec["directions"] == ["angry"] and ds.spec["prompt_source"] == "neutral expression"
    prompts = train.PromptTable(None, texts=ds.texts)
    b = train.make_batch(ds, prompts, torch.Generator().manual_seed(0), 256)
    # every sample's prompt is its pair's: the target text (row 1), or the
    # source text (row 0) for the reconstruction samples, whose latent is the
    # source latent
    for k in range(256):
        row = 0 if torch.equal(b["z0"][k], b["cs"][k]) else 1
        assert any(torch.equal(b["ids"][k], w) for w in prompts.ids[:, row])


def test_train_micro_on_a_go_pairs_folder_and_export(micro_ae, tmp_path):
    run = tmp_path / "run"
    run_module("train", "--config", "micro", "--pairs", FIXTURE, "--ae", micro_ae, "--batch", "4",
               "--steps", "4", "--log-every", "2", "--out", str(run))
    ck = torch.load(run / "ckpt.pt", map_location="cpu")
    assert ck["step"] == 4 and ck["task"] == "pairs"
    assert ck["spec"]["directions"] == ["angry"] and ck["spec"]["prompts"] == {"angry": "angry"}
    assert [json.loads(l)["step"] for l in open(run / "log.jsonl")] == [0, 2, 4]
    pack = tmp_path / "pack"
    run_module("export", "--run", str(run), "--out", str(pack))
    man = json.load(open(pack / "likeness.json"))
    assert man["source"] == "neutral expression"
    assert man["directions"] == [{"id": "angry", "label": "Angry", "target": "angry"}]
    assert man["trained"]["task"] == "pairs"


def test_train_needs_task_or_pairs(micro_ae, tmp_path):
    try:
        run_module("train", "--config", "micro", "--ae", micro_ae, "--steps", "1", "--out", str(tmp_path))
    except AssertionError as e:
        assert "--pairs" in str(e)
    else:
        raise AssertionError("train without --task or --pairs succeeded")
