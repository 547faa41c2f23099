"""Weights back out of a pack's ONNX files, so a shipped pack can be trained
further (`train --init-from-pack`) without its training checkpoint.

torch.onnx.export keeps a parameter's name when it feeds the graph as it is,
but constant folding turns some into anonymous initializers (a Linear on a
3-D input becomes MatMul with the transposed weight, "onnx::MatMul_123").
So the map from initializers to parameters is learned from a probe: the same
module, every parameter filled with distinct random values, exported the
same way; each probe initializer is then found among the parameters as they
are or transposed. The pack's initializers, whose names match the probe's
(same code, same graph), then give the parameters back exactly (float16-stored
ones as float32)."""
import json
import os
import tempfile

import numpy as np
import torch

from . import core, nets

FP16 = "__fp16"


def _initializers(path):
    import onnx
    from onnx import numpy_helper
    out = {}
    for t in onnx.load(path).graph.initializer:
        name = t.name[:-len(FP16)] if t.name.endswith(FP16) else t.name
        out[name] = numpy_helper.to_array(t).astype(np.float32)
    return out


def _probe_map(module, args, inputs, outputs, dynamic):
    """{initializer name: (parameter name, transposed)} for module's export."""
    g = torch.Generator().manual_seed(1234)
    saved = {k: v.detach().clone() for k, v in module.state_dict().items()}
    keys = {}
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g))
            a = p.detach().numpy().astype(np.float32)
            keys[a.tobytes()] = (name, False)
            if a.ndim == 2:
                keys[np.ascontiguousarray(a.T).tobytes()] = (name, True)
    try:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "probe", "model.onnx")
            core.onnx_export(module, args, path, inputs, outputs, dynamic)
            inits = _initializers(path)
    finally:
        module.load_state_dict(saved)
    out = {}
    for name, a in inits.items():
        hit = keys.get(np.ascontiguousarray(a).tobytes())
        if hit is not None:
            out[name] = hit
    return out


def load_part(module, args, inputs, outputs, dynamic, onnx_path):
    """Fill module's parameters from onnx_path, an export of the same module
    by export.write_pack. Raises ValueError naming the file and the first
    parameter it cannot find or whose shape differs."""
    mapping = _probe_map(module, args, inputs, outputs, dynamic)
    inits = _initializers(onnx_path)
    params = dict(module.named_parameters())
    found = {}
    for init, (pname, transposed) in mapping.items():
        if init not in inits:
            raise ValueError(f"{onnx_path}: lacks tensor {init!r} (parameter {pname}): "
                             "not an export of this configuration by this version of likeness_train")
        a = inits[init].T if transposed else inits[init]
        if a.size == params[pname].numel():
            # folding may add unit axes (a Slice or Unsqueeze of the parameter)
            a = np.ascontiguousarray(a).reshape(tuple(params[pname].shape))
        if tuple(a.shape) != tuple(params[pname].shape):
            raise ValueError(f"{onnx_path}: {pname} has shape {tuple(a.shape)}, the config wants "
                             f"{tuple(params[pname].shape)}")
        found[pname] = torch.from_numpy(np.ascontiguousarray(a).copy())
    # Every parameter of this code feeds its graph, so one not found would
    # be a silent random weight: an error instead.
    missing = [n for n in params if n not in found]
    if missing:
        raise ValueError(f"{onnx_path}: {len(missing)} parameters not found in the file (first {missing[0]})")
    with torch.no_grad():
        for n, v in found.items():
            params[n].copy_(v)


def mcdm_from_pack(pack, cfg):
    """An MCDM of cfg with the weights of pack (a likeness_train export)."""
    man_path = os.path.join(pack, "likeness.json")
    with open(man_path) as f:
        man = json.load(f)
    trained = man.get("trained") or {}
    if trained.get("by") != "likeness_train":
        raise ValueError(f"{man_path}: not a pack likeness_train wrote (\"trained.by\" is {trained.get('by')!r})")
    if man["resolution"] != cfg["resolution"] or man.get("latent_factor", 8) != cfg["latent_factor"]:
        raise ValueError(f"{man_path}: resolution {man['resolution']} / latent_factor {man.get('latent_factor', 8)} "
                         f"differ from the run's {cfg['resolution']} / {cfg['latent_factor']}")
    mcdm = nets.MCDM(cfg)
    h = cfg["resolution"] // cfg["latent_factor"]
    k, D, B = cfg["image_tokens"], cfg["text_dim"], {0: "batch"}
    parts = [
        ("text_encoder", mcdm.text_encoder, (torch.full((1, 77), 49407, dtype=torch.long),),
         ["input_ids"], ["last_hidden_state"], {"input_ids": B, "last_hidden_state": B}),
        ("unet", core.UnetExport(mcdm.unet), (torch.zeros(1, 8, h, h), torch.tensor([999.0]), torch.zeros(1, 77 + k, D)),
         ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
         {"sample": B, "timestep": B, "encoder_hidden_states": B, "out_sample": B}),
        ("image_encoder", mcdm.image_encoder, (torch.zeros(1, 3, 224, 224),),
         ["pixel_values"], ["image_embeds"], {"pixel_values": B, "image_embeds": B}),
        ("image_projector", mcdm.image_projector, (torch.zeros(1, 4, h, h), torch.zeros(1, cfg["image_dim"])),
         ["latent", "image_embeds"], ["image_tokens"], {"latent": B, "image_embeds": B, "image_tokens": B}),
    ]
    for name, mod, args, ins, outs, dyn in parts:
        mod.eval()
        load_part(mod, args, ins, outs, dyn, os.path.join(pack, name, "model.onnx"))
    return mcdm, float(man["spatial_latent_scale"])
