"""Builds an SD 1.5-sized mcdm pack with random weights, for `make bench-sd`.

The pack is the trainer's `sd15` configuration (diffusers' UNet2DConditionModel
layout with 8 input channels and cross-attention width 768: 859.5 M UNet
parameters; the text encoder, autoencoder and image models are the trainer's
smaller ones), exported to the model contract by the trainer's write_pack.
The weights are random (seeded): the pack measures cost, not quality.

torch writes a UNet over 2 GB with one file per tensor; they are gathered
into one external data file, model.onnx_data, and the manifest's sizes and
digests are written again.

    python3 packaging/sd-pack.py --out ~/.cache/likeness/bench/sd15-random
"""
import argparse
import gc
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models", "train"))

import torch  # noqa: E402

from likeness_train import export, nets  # noqa: E402


def gather_external(model_dir):
    """One external data file instead of torch's file per tensor."""
    import onnx
    path = os.path.join(model_dir, "model.onnx")
    m = onnx.load(path)  # reads every tensor file
    for f in os.listdir(model_dir):
        if f != "model.onnx":
            os.remove(os.path.join(model_dir, f))
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx_data", size_threshold=1024)


def rewrite_files(pack):
    path = os.path.join(pack, "likeness.json")
    with open(path) as fh:
        man = json.load(fh)
    files = {}
    for root, _, names in os.walk(pack):
        for n in sorted(names):
            p = os.path.join(root, n)
            rel = os.path.relpath(p, pack).replace(os.sep, "/")
            if rel != "likeness.json":
                files[rel] = {"bytes": os.path.getsize(p), "sha256": export._sha(p)}
    man["files"] = dict(sorted(files.items()))
    man["trained"] = {"by": "packaging/sd-pack.py", "config": "sd15",
                      "note": "random weights, SD 1.5-sized: for measuring cost only"}
    with open(path, "w") as fh:
        json.dump(man, fh, indent=2)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    torch.manual_seed(args.seed)
    cfg = nets.config("sd15")
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".partial-", dir=os.path.dirname(out))
    try:
        mcdm = nets.MCDM(cfg).eval()
        ae = nets.Autoencoder(cfg).eval()
        print(f"sd-pack: UNet {nets.count(mcdm.unet) / 1e6:.1f} M parameters; exporting to {tmp}", flush=True)
        export.write_pack(tmp, mcdm, ae, 0.18215, cfg, "expressions", "SD 1.5-sized (random weights)")
        del mcdm, ae
        gc.collect()
        for role in os.listdir(tmp):
            d = os.path.join(tmp, role)
            if os.path.isdir(d) and len(os.listdir(d)) > 1 and os.path.exists(os.path.join(d, "model.onnx")):
                print(f"sd-pack: gathering {role}'s weights into model.onnx_data", flush=True)
                gather_external(d)
        rewrite_files(tmp)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"sd-pack: wrote {out}", flush=True)


if __name__ == "__main__":
    main()
