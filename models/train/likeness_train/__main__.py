"""python3 -m likeness_train {pairs,train-ae,train,export,sample} ..."""
import argparse
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(prog="likeness_train", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("pairs", help="render generated pairs into a folder (index.jsonl + PNGs)")
    p.add_argument("--task", required=True, choices=["expressions", "costumes"])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--n", type=int, required=True, help="identities")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", required=True)

    p = sub.add_parser("train-ae", help="train the autoencoder")
    p.add_argument("--config", default="tiny")
    p.add_argument("--tasks", nargs="+", default=["expressions", "costumes"])
    p.add_argument("--identities", type=int, default=400)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--minutes", type=float, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)

    p = sub.add_parser("ae-from-pack", help="take a likeness_train pack's autoencoder as an ae.pt")
    p.add_argument("--pack", required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("train-decoder", help="fine-tune the decoder alone (the latent space stays)")
    p.add_argument("--ae", required=True)
    p.add_argument("--tasks", nargs="+", default=["expressions", "costumes"])
    p.add_argument("--identities", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--minutes", type=float, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="where to write the fine-tuned ae.pt")

    p = sub.add_parser("train", help="train the MCDM (torchrun for several processes)")
    p.add_argument("--config", default="tiny")
    p.add_argument("--task", choices=["expressions", "costumes"],
                   help="the procedural task to train on (required unless --pairs)")
    p.add_argument("--pairs", help="train on a pairs folder (index.jsonl, e.g. from `likeness pairs`) "
                   "instead of procedural renders; prompts come from its source_text/target_text")
    p.add_argument("--ae", required=True, help="autoencoder checkpoint (train-ae's ae.pt)")
    p.add_argument("--identities", type=int, default=1500)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--minutes", type=float, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init-unet", help="diffusers UNet2DConditionModel weights (SD 1.5 / InstructPix2Pix "
                   "diffusion_pytorch_model.bin) for --config sd15; 4 input channels are widened with zeros")
    p.add_argument("--init-from-pack", help="start from the weights of a pack likeness_train exported "
                   "(train a shipped pack further; its latent scale must be the autoencoder's)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--fixed-batch", type=int, default=64,
                   help="size of the fixed batch scored at each log line (fixed_loss in log.jsonl; 0: off)")
    p.add_argument("--sample-every", type=int, default=0)
    p.add_argument("--checkpoint-minutes", type=float, default=5)
    p.add_argument("--stop-after", type=int, default=0,
                   help="stop at this step as if interrupted (the schedule still spans --steps)")
    p.add_argument("--dump-weights", action="store_true", help="write every rank's final weights (tests)")
    p.add_argument("--out", required=True)

    p = sub.add_parser("export", help="write a model pack that follows the model contract")
    p.add_argument("--run", required=True, help="training run folder (ckpt.pt)")
    p.add_argument("--out", required=True)
    p.add_argument("--name")
    p.add_argument("--fp16-weights", action="store_true",
                   help="store weights as float16 (computed in float32): half the size")
    p.add_argument("--raw", action="store_true", help="export the live weights, not the EMA")
    p.add_argument("--ae", help="autoencoder to ship instead of the run's (e.g. train-decoder's)")
    p.add_argument("--face-locator", help="a face locator to ship as face_locator/model.onnx (train-locator's)")
    p.add_argument("--foreground", help="a foreground segmenter to ship as foreground/model.onnx (train-foreground's)")

    p = sub.add_parser("sample", help="torch reference sampler for a trained run")
    p.add_argument("--run", required=True)
    p.add_argument("--input", required=True, help="source image")
    p.add_argument("--direction", required=True)
    p.add_argument("--noise", required=True, help=".npy [1+mask_seeds,4,h,w] (row 0 the initial latent)")
    p.add_argument("--scheduler", default="ddim", choices=["ddim", "unipc"])
    p.add_argument("--mode", default="masked", choices=["baseline", "masked"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--s1", type=float, default=3)
    p.add_argument("--s2", type=float, default=3)
    p.add_argument("--s3", type=float, default=5)
    p.add_argument("--lam", type=float, default=0.35)
    p.add_argument("--mask-normalize", default="normalize_then_blur")
    p.add_argument("--mask-guidance", default="eq3")
    p.add_argument("--mask-noise-steps", type=int, default=10)
    p.add_argument("--subject", default="person")
    p.add_argument("--ae", help="autoencoder override, as for export")
    p.add_argument("--out", required=True)

    for name, what in (("train-locator", "the face locator (face_locator/model.onnx)"),
                       ("train-judge", "an expression or costume judge for likeness eval")):
        p = sub.add_parser(name, help=f"train {what} on broad renders")
        if name == "train-judge":
            p.add_argument("--task", required=True, choices=["expressions", "costumes"])
        p.add_argument("--identities", type=int, default=600)
        p.add_argument("--batch", type=int, default=64)
        p.add_argument("--lr", type=float, default=2e-3)
        p.add_argument("--steps", type=int, default=0)
        p.add_argument("--minutes", type=float, default=10)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", required=True, help="folder for the model (and the render cache)")

    p = sub.add_parser("train-foreground", help="train the foreground segmenter (foreground/model.onnx)")
    p.add_argument("--identities", type=int, default=900, help="renderer characters")
    p.add_argument("--clipart", type=int, default=1500, help="openclipart drawings with transparency")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--minutes", type=float, default=15)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="go on from foreground.pt in --out (--minutes is the total)")
    p.add_argument("--out", required=True, help="folder for the model (and the image cache)")
    p = sub.add_parser("add-helper", help="copy a helper model into an exported pack and list it in likeness.json")
    p.add_argument("--pack", required=True)
    p.add_argument("--role", required=True, choices=["face_locator", "foreground"])
    p.add_argument("--model", required=True, help="the helper's model.onnx")
    p = sub.add_parser("matte-set", help="write cut-out test pictures with their true alpha (likeness eval --matte)")
    p.add_argument("--renders", type=int, default=48, help="held-out renderer characters")
    p.add_argument("--out", required=True)

    a = ap.parse_args(argv)
    if a.cmd == "train" and not a.task and not a.pairs:
        ap.error("train: give --task (procedural pairs) or --pairs DIR (a pairs folder)")
    t0 = time.time()
    if a.cmd == "pairs":
        from . import data
        n = data.write_pairs(a.out, a.task, a.seed, a.n, a.size, a.split,
                             progress=lambda i, n: print(f"\r{i}/{n} identities", end="", file=sys.stderr))
        print(f"\n{n} pairs in {a.out} ({time.time() - t0:.1f} s)", file=sys.stderr)
    elif a.cmd == "train-ae":
        from . import train
        train.train_ae(a)
    elif a.cmd == "ae-from-pack":
        from . import train
        train.ae_from_pack(a)
    elif a.cmd == "train-decoder":
        from . import train
        train.train_decoder(a)
    elif a.cmd == "train":
        from . import train
        train.train(a)
    elif a.cmd == "train-locator":
        from . import auxnets
        auxnets.train_locator(a)
    elif a.cmd == "train-judge":
        from . import auxnets
        auxnets.train_judge(a)
    elif a.cmd == "train-foreground":
        from . import foreground
        foreground.train(a)
    elif a.cmd == "add-helper":
        from . import export
        export.add_helper(a)
    elif a.cmd == "matte-set":
        from . import foreground
        n = foreground.write_matte_set(a.out, a.renders)
        print(f"{n} pictures in {a.out}", file=sys.stderr)
    elif a.cmd == "export":
        from . import export
        export.export(a)
    elif a.cmd == "sample":
        from . import sample
        sample.main(a)
    print(f"{a.cmd}: {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
