"""Export -> likeness models check -> likeness edit, and the torch reference
sampler against the Go engine on the same pack and noise."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

from conftest import ROOT, run_module
from likeness_train import data, export, render, sample

REPO = os.path.normpath(os.path.join(ROOT, "..", ".."))


@pytest.fixture(scope="module")
def likeness_bin(tmp_path_factory):
    """The Go binary: the Makefile passes the one it built; otherwise build it
    (cached by Go's build cache)."""
    b = os.environ.get("LIKENESS_BIN")
    if b:
        assert os.path.exists(b), f"LIKENESS_BIN={b} does not exist"
        return b
    b = str(tmp_path_factory.mktemp("bin") / "likeness")
    subprocess.run(["go", "build", "-o", b, "."], cwd=REPO, check=True)
    return b


@pytest.fixture(scope="module")
def micro_pack(micro_ae, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    run_module("train", "--config", "micro", "--task", "expressions", "--identities", "16", "--batch", "8",
               "--steps", "40", "--lr", "2e-3", "--ae", micro_ae, "--out", str(run))
    pack = tmp_path_factory.mktemp("packs") / "micro"
    run_module("export", "--run", str(run), "--fp16-weights", "--name", "Micro test pack", "--out", str(pack))
    return str(run), str(pack)


def go(bin_, *args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([bin_, *args], capture_output=True, text=True, env=e, timeout=600)
    assert p.returncode == 0, f"likeness {' '.join(args)}: {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    return p


def test_export_follows_the_contract(micro_pack, likeness_bin, tmp_path):
    _, pack = micro_pack
    man = json.load(open(os.path.join(pack, "likeness.json")))
    assert man["kind"] == "mcdm" and man["resolution"] == 64 and man["latent_factor"] == 8
    for m in ("text_encoder", "unet", "vae_encoder", "vae_decoder", "image_encoder", "image_projector"):
        assert f"{m}/model.onnx" in man["files"]
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    go(likeness_bin, "models", "install", "--name", "micro", pack, env=env)
    out = go(likeness_bin, "models", "check", "--json", "micro", env=env).stdout
    assert "Micro test pack" in out
    src = tmp_path / "in.png"
    data.write_png(str(src), render.render(data.identity(data.TEST_SEED, 0), 48))
    res = json.loads(go(likeness_bin, "edit", "--pack", pack, "--input", str(src), "--direction", "angry",
                        "--steps", "4", "--mask-seeds", "2", "--json", "--out", str(tmp_path / "out.png"),
                        env=env).stdout)
    assert os.path.exists(tmp_path / "out.png")
    assert data.load_rgb(str(tmp_path / "out.png")).shape == (48, 48, 3)  # the whole photo, blended
    assert res  # a JSON object came back


def _lambda_in_a_gap(N, lo=0.2, hi=0.7):
    """A threshold far from every value of N, so float-level differences
    between implementations cannot flip a mask cell."""
    v = np.sort(np.concatenate([[lo], N.flatten(), [hi]]))
    v = v[(v >= lo) & (v <= hi)]
    i = int(np.argmax(np.diff(v)))
    return float((v[i] + v[i + 1]) / 2), float(v[i + 1] - v[i])


@pytest.mark.parametrize("sched", ["unipc", "ddim"])
@pytest.mark.parametrize("mode", ["baseline", "masked"])
def test_torch_reference_and_go_engine_agree(micro_pack, likeness_bin, tmp_path, sched, mode):
    run, pack = micro_pack
    seeds = 3
    src = tmp_path / "in.png"
    data.write_png(str(src), render.render(data.identity(data.TEST_SEED, 1), 64))
    noise = np.random.default_rng(5).standard_normal((1 + seeds, 4, 8, 8)).astype(np.float32)
    np.save(tmp_path / "noise.npy", noise)
    guidance = "eq3_latent_blend" if sched == "ddim" else "eq3"
    normalize = "blur_then_normalize" if sched == "ddim" else "normalize_then_blur"
    # the reference mask first, to place λ in a gap of its soft map
    mcdm, ae, scale, cfg, task, _ = export.load_run(run, fp16=True)
    pipe = sample.Pipeline(mcdm, ae, scale, cfg, task)
    z0, tok = pipe.encode(data.load_rgb(str(src)))
    pa, pb = pipe.text(pipe.prompt(None)), pipe.text(pipe.prompt("angry"))
    N = pipe.mask(z0, tok, pa, pb, torch.from_numpy(noise[1:]), (3, 3, 5), 8, 4, sched, normalize).numpy()
    lam, gap = _lambda_in_a_gap(N)
    assert gap > 1e-3, "no clear threshold in this soft map"
    args = ["--direction", "angry", "--steps", "8", "--mask-noise-steps", "4", "--scheduler", sched,
            "--s1", "3", "--s2", "3", "--s3", "5", "--lambda", f"{lam:.6f}", "--mask-normalize", normalize,
            "--mask-guidance", guidance]
    ref = tmp_path / "ref.png"
    run_module("sample", "--run", run, "--input", str(src), "--direction", "angry", "--noise", str(tmp_path / "noise.npy"),
               "--mode", mode, "--scheduler", sched, "--steps", "8", "--mask-noise-steps", "4",
               "--lam", f"{lam:.6f}", "--mask-normalize", normalize, "--mask-guidance", guidance,
               "--out", str(ref))
    out = tmp_path / "go.png"
    go(likeness_bin, "edit", "--pack", pack, "--input", str(src), "--noise", str(tmp_path / "noise.npy"),
       "--mask-seeds", str(seeds), "--model-res", "--no-preserve", *(["--no-mask"] if mode == "baseline" else []),
       *args, "--out", str(out))
    a = data.load_rgb(str(ref)).astype(int)
    b = data.load_rgb(str(out)).astype(int)
    assert a.shape == b.shape
    diff = np.abs(a - b)
    assert diff.max() <= 2, f"max difference {diff.max()} levels, mean {diff.mean():.3f}"
    assert a.std() > 1  # not a flat image agreeing trivially


def test_weights_come_back_from_the_pack(micro_pack):
    """frompack recovers every parameter of an exported pack exactly (as its
    float16 storage holds them), so `train --init-from-pack` continues the
    model that shipped, not a near copy."""
    from likeness_train import frompack
    run, pack = micro_pack
    mcdm, _, scale, cfg, _, _ = export.load_run(run, fp16=True)
    got, got_scale = frompack.mcdm_from_pack(pack, cfg)
    assert abs(got_scale - scale) < 1e-6 * abs(scale)
    want = dict(mcdm.named_parameters())
    for name, p in got.named_parameters():
        assert torch.equal(p.detach(), want[name].detach()), name


def test_init_from_pack_refuses_another_config(micro_pack, tmp_path):
    from likeness_train import frompack, nets
    _, pack = micro_pack
    # same resolution and latent factor, other widths: the shapes differ
    cfg = nets.config("tiny", resolution=64, latent_factor=8)
    with pytest.raises(ValueError, match="model.onnx"):
        frompack.mcdm_from_pack(pack, cfg)


def test_foreground_trains_ships_and_is_checked(micro_pack, likeness_bin, tmp_path):
    """train-foreground (a few steps on renders and openclipart drawings)
    exports the contract's foreground/ model; add-helper lists it in a
    pack's files with its digest; likeness models check opens it."""
    import hashlib
    import shutil
    aux = tmp_path / "aux"
    run_module("train-foreground", "--identities", "8", "--clipart", "12", "--steps", "3", "--batch", "4",
               "--out", str(aux))
    model = aux / "foreground" / "model.onnx"
    assert model.exists() and (aux / "foreground.pt").exists()
    _, src = micro_pack
    pack = tmp_path / "pack"
    shutil.copytree(src, pack)
    run_module("add-helper", "--pack", str(pack), "--role", "foreground", "--model", str(model))
    man = json.load(open(pack / "likeness.json"))
    entry = man["files"]["foreground/model.onnx"]
    assert entry["sha256"] == hashlib.sha256(open(model, "rb").read()).hexdigest()
    assert entry["bytes"] == os.path.getsize(model)
    out = go(likeness_bin, "models", "check", str(pack)).stdout
    assert "foreground       image [1,3,128,128] -> alpha [1,1,128,128]" in out
    # The matte set: pictures with their true alpha, indexed.
    mset = tmp_path / "mset"
    run_module("matte-set", "--renders", "2", "--out", str(mset))
    rows = open(mset / "index.tsv").read().splitlines()
    assert rows[0] == "file\talpha\tgroup" and len(rows) == 1 + 2 + 3 * 24
    assert all((mset / r.split("\t")[0]).exists() and (mset / r.split("\t")[1]).exists() for r in rows[1:])
