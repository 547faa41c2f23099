"""Likeness trainer: generated pairs -> MCDM training -> ONNX model packs.

Inference stays in Go (the Likeness engine); this package is the learning half of
the paper: a procedural pair generator, the Multi-Conditioned Diffusion Model, its
training loop (one CPU or torchrun/DDP), a reference sampler, and the exporter to
the model contract.
"""

__version__ = "0.1.0"
