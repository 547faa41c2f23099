"""What the trainer's stages share, so that none of them imports another
(train, export, sample and frompack each import this and nets, never each
other): logging, the prompt template and subjects, image tensors, atomic
saves, the autoencoder loader, the ONNX export helpers and run loading.
"""
import os
import sys

import torch

from . import nets

SUBJECTS = ["person", "man", "woman"]
TEMPLATE = "a {subject}, {text}"
OPSET = 14


def betas_scaled_linear(n=1000, start=0.00085, end=0.012):
    """Stable Diffusion's scaled-linear beta schedule, float64."""
    return torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float64) ** 2


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def to_tensor(u8):
    """uint8 [..., H, W, 3] -> float [-1, 1] [..., 3, H, W]."""
    x = torch.from_numpy(u8).float() / 127.5 - 1
    return x.movedim(-1, -3)


def load_ae(path):
    ck = torch.load(path, map_location="cpu")
    cfg = ck["config"]
    ae = nets.Autoencoder(cfg)
    ae.load_state_dict(ck["state"])
    ae.eval()
    for p in ae.parameters():
        p.requires_grad_(False)
    return ae, ck["scale"], ck


class UnetExport(torch.nn.Module):
    """The UNet with the contract's input names, for torch.onnx.export."""

    def __init__(self, u):
        super().__init__()
        self.u = u

    def forward(self, sample, timestep, encoder_hidden_states):
        return self.u(sample, timestep, encoder_hidden_states)


def onnx_export(module, args, path, inputs, outputs, dynamic):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                          dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True)


def fp16_round(state, min_elems=256):
    """The weights as the fp16-stored pack holds them (float32 compute)."""
    out = {}
    for k, v in state.items():
        if v.dtype == torch.float32 and v.numel() >= min_elems:
            out[k] = v.half().float()
        else:
            out[k] = v
    return out


def load_run(run, raw=False, fp16=False, ae=None):
    """(mcdm, ae, scale, cfg, task, checkpoint) of a training run, EMA weights
    by default. `ae` overrides the autoencoder (e.g. one with a fine-tuned
    decoder; its encoder must be the one the run trained on)."""
    ck = torch.load(os.path.join(run, "ckpt.pt"), map_location="cpu")
    cfg = ck["config"]
    mcdm = nets.MCDM(cfg)
    state = ck["model"] if raw else ck["ema"]
    ae_path = ae or ck["ae"]
    if not os.path.exists(ae_path):
        ae_path = os.path.join(run, "ae.pt")
    ae, scale, aeck = load_ae(ae_path)
    if abs(scale - ck["scale"]) > 1e-6 * abs(ck["scale"]):
        raise ValueError(f"{ae_path}: latent scale {scale} differs from the run's {ck['scale']}: "
                         "not the encoder this run trained on")
    if fp16:
        state = fp16_round(state)
        ae.load_state_dict(fp16_round(ae.state_dict()))
    mcdm.load_state_dict(state)
    mcdm.eval()
    return mcdm, ae, scale, cfg, ck["task"], ck
