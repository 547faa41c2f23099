"""Export a trained run to a model pack that follows the model contract:
six ONNX files, the tokenizer, the scheduler config and likeness.json with
directions, prompts, defaults and digests. The pack is built in a temporary
sibling folder and renamed into place.
"""
import hashlib
import json
import os
import shutil
import tempfile

import torch

from . import core, nets, render
from .core import fp16_round, load_run, onnx_export as _onnx, UnetExport as _Unet  # noqa: F401 (re-exported)
from .tokenizer import default_vocab_dir

OPSET = core.OPSET

SD15_SCHEDULER = {
    "_class_name": "PNDMScheduler",
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "steps_offset": 1,
    "set_alpha_to_one": False,
    "clip_sample": False,
    "skip_prk_steps": True,
    "prediction_type": "epsilon",
    "trained_betas": None,
}

# Defaults the starter packs ship with; `likeness eval --calibrate` may
# rewrite lambda and the mask options from validation pairs.
# s1 = s2 = 1.5, s3 = 5: the best of (3,3,5), (1.5,1.5,5), (1.5,1.5,7.5) and
# (1,1,5) on validation identities for the 0.2 starter packs (rule: most
# edits recognised, then highest product SSIM; expressions 100% at all four,
# product SSIM 0.950, 0.958, 0.955, 0.955). The paper's larger scales push
# these small models off their training distribution (speckle in the face).
DEFAULTS = {
    "s1": 1.5, "s2": 1.5, "s3": 5, "lambda": 0.35, "steps": 20, "scheduler": "unipc",
    "mask_seeds": 10, "mask_noise_steps": 10, "blur_kernel": 5,
    "mask_normalize": "blur_then_normalize", "mask_guidance": "eq3_latent_blend",
}

NAMES = {"expressions": "Cartoon expressions", "costumes": "Cartoon costumes"}


def _fp16_weights(path, min_elems=256):
    """Store float32 initializers as float16 followed by a Cast back to
    float32: half the bytes, float32 arithmetic (ONNX Runtime folds the casts
    at load)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    m = onnx.load(path)
    g = m.graph
    new_init, casts = [], []
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT and int(torch.tensor(list(t.dims)).prod().item() if t.dims else 1) >= min_elems:
            a = numpy_helper.to_array(t).astype("float16")
            h = numpy_helper.from_array(a, t.name + "__fp16")
            new_init.append(h)
            casts.append(helper.make_node("Cast", [h.name], [t.name], to=TensorProto.FLOAT,
                                          name=t.name + "__cast"))
        else:
            new_init.append(t)
    del g.initializer[:]
    g.initializer.extend(new_init)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def _sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def manifest(name, task, cfg, scale, files, defaults=None, spec=None):
    """spec: the directions of a run trained on a pairs folder (the
    checkpoint's "spec", shaped like render.TASKS[task])."""
    note = "a small model learned from procedural cartoon portraits"
    if spec:
        note = f"learned from the pairs folder {spec.get('folder', '')}".rstrip()
    spec = spec or render.TASKS[task]
    return {
        "format": 1,
        "name": name,
        "kind": "mcdm",
        "resolution": cfg["resolution"],
        "latent_factor": cfg["latent_factor"],
        "vae_scaling_factor": round(float(scale), 6),
        "spatial_latent_scale": round(float(scale), 6),
        "null_spatial": "black_image",
        "null_image_tokens": "zeros",
        "prompts": {"source": "a {subject}, {source}", "target": "a {subject}, {target}"},
        "subjects": list(core.SUBJECTS),
        "source": spec["prompt_source"],
        "directions": [{"id": d, "label": spec["labels"][d], "target": spec["prompts"][d]}
                       for d in spec["directions"]],
        "defaults": dict(defaults or DEFAULTS),
        **({} if task not in render.TASKS else {
            # where the broad renderer's canonical framing puts the face
            "face_box": list(render.FACE_BOX), "domain": "cartoon portraits"}),
        "trained": {"by": "likeness_train", "config": cfg["name"], "task": task,
                    "note": note},
        "files": files,
    }


def export(args):
    fp16 = bool(getattr(args, "fp16_weights", False))
    mcdm, ae, scale, cfg, task, ck = load_run(args.run, raw=args.raw, fp16=fp16, ae=args.ae)
    spec = ck.get("spec")  # a run trained on a pairs folder
    name = args.name or NAMES.get(task, task)
    if spec and not args.name:
        name = "Learned from pairs: " + ", ".join(spec["labels"][d] for d in spec["directions"])
    out = os.path.abspath(args.out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(out) + ".partial-", dir=parent)
    try:
        write_pack(tmp, mcdm, ae, scale, cfg, task, name, fp16, spec=spec,
                   face_locator=getattr(args, "face_locator", None), foreground=getattr(args, "foreground", None))
        if os.path.exists(out):
            old = out + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    core.log(f"exported {name!r} ({task}, step {ck['step']}) to {out}")
    return out


def write_pack(d, mcdm, ae, scale, cfg, task, name, fp16=False, defaults=None, spec=None, face_locator=None,
               foreground=None):
    res, f = cfg["resolution"], cfg["latent_factor"]
    h = res // f
    k = cfg["image_tokens"]
    D = cfg["text_dim"]
    B = {0: "batch"}
    _onnx(mcdm.text_encoder, (torch.full((1, 77), 49407, dtype=torch.long),),
          os.path.join(d, "text_encoder", "model.onnx"), ["input_ids"], ["last_hidden_state"],
          {"input_ids": B, "last_hidden_state": B})
    _onnx(_Unet(mcdm.unet), (torch.zeros(1, 8, h, h), torch.tensor([999.0]), torch.zeros(1, 77 + k, D)),
          os.path.join(d, "unet", "model.onnx"), ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
          {"sample": B, "timestep": B, "encoder_hidden_states": B, "out_sample": B})
    _onnx(ae.encoder, (torch.zeros(1, 3, res, res),), os.path.join(d, "vae_encoder", "model.onnx"),
          ["sample"], ["latent_sample"], {"sample": B, "latent_sample": B})
    _onnx(ae.decoder, (torch.zeros(1, 4, h, h),), os.path.join(d, "vae_decoder", "model.onnx"),
          ["latent_sample"], ["sample"], {"latent_sample": B, "sample": B})
    _onnx(mcdm.image_encoder, (torch.zeros(1, 3, 224, 224),), os.path.join(d, "image_encoder", "model.onnx"),
          ["pixel_values"], ["image_embeds"], {"pixel_values": B, "image_embeds": B})
    _onnx(mcdm.image_projector, (torch.zeros(1, 4, h, h), torch.zeros(1, cfg["image_dim"])),
          os.path.join(d, "image_projector", "model.onnx"), ["latent", "image_embeds"], ["image_tokens"],
          {"latent": B, "image_embeds": B, "image_tokens": B})
    models = ["text_encoder", "unet", "vae_encoder", "vae_decoder", "image_encoder", "image_projector"]
    if fp16:
        for m in models:
            _fp16_weights(os.path.join(d, m, "model.onnx"))
    for role, src in (("face_locator", face_locator), ("foreground", foreground)):
        if src:  # the contract's optional helpers (train-locator's, train-foreground's model.onnx)
            os.makedirs(os.path.join(d, role))
            shutil.copyfile(src, os.path.join(d, role, "model.onnx"))
    os.makedirs(os.path.join(d, "tokenizer"))
    for fn in ("vocab.json", "merges.txt"):
        shutil.copyfile(os.path.join(default_vocab_dir(), fn), os.path.join(d, "tokenizer", fn))
    os.makedirs(os.path.join(d, "scheduler"))
    with open(os.path.join(d, "scheduler", "scheduler_config.json"), "w") as fh:
        json.dump(SD15_SCHEDULER, fh, indent=2)
    files = {}
    for root, _, names in os.walk(d):
        for n in sorted(names):
            p = os.path.join(root, n)
            rel = os.path.relpath(p, d).replace(os.sep, "/")
            files[rel] = {"bytes": os.path.getsize(p), "sha256": _sha(p)}
    with open(os.path.join(d, "likeness.json"), "w") as fh:
        json.dump(manifest(name, task, cfg, scale, dict(sorted(files.items())), defaults, spec), fh, indent=2)
        fh.write("\n")


def add_helper(args):
    """Copies a helper model (face_locator/ or foreground/) into an exported
    pack and lists it in likeness.json's files, without re-exporting the
    rest: the manifest is rewritten atomically, the model copied first."""
    pack, role = os.path.abspath(args.pack), args.role
    man_path = os.path.join(pack, "likeness.json")
    with open(man_path) as fh:
        man = json.load(fh)
    dst_dir = os.path.join(pack, role)
    os.makedirs(dst_dir, exist_ok=True)
    dst = os.path.join(dst_dir, "model.onnx")
    tmp = dst + ".tmp"
    shutil.copyfile(args.model, tmp)
    os.replace(tmp, dst)
    files = dict(man.get("files", {}))
    files[f"{role}/model.onnx"] = {"bytes": os.path.getsize(dst), "sha256": _sha(dst)}
    man["files"] = dict(sorted(files.items()))
    tmp = man_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(man, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, man_path)
    core.log(f"{role}/model.onnx added to {pack}")
