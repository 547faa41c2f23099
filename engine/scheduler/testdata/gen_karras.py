#!/usr/bin/env python3
"""Writes the DPM++ 2M Karras golden cases in this folder, in the format of
shared/golden/README.md section 2 (trajectory and add_noise cases).

The reference is a numpy transcription of diffusers'
DPMSolverMultistepScheduler (src/diffusers/schedulers/
scheduling_dpmsolver_multistep.py at commit
58eb52c0803ea9af3abec60841c2a093bdf1f951, 0.40.0.dev0) for
algorithm_type "dpmsolver++", solver_order 2, use_karras_sigmas True:
__init__ (the training tables, built with torch in float32 as diffusers
builds them), set_timesteps (the Karras sigmas of _convert_to_karras, the
timesteps from _sigma_to_t of each, rounded half to even by np.round, then
cast to int64), convert_model_output, the first- and second-order updates,
step (lower_order_final), index_for_timestep and add_noise (begin_index and
step_index paths). The schedule is diffusers' own, from float32 training
tables (with float64 tables 277 of the step counts 1..1000 would round a
timestep the other way); as in the shared cases, the step arithmetic is
float64.

    python3 gen_karras.py   # from this directory; needs numpy and torch
"""
import json
import math
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
COMMIT = "58eb52c0803ea9af3abec60841c2a093bdf1f951"
SOURCE = ("numpy transcription of diffusers src/diffusers/schedulers/scheduling_dpmsolver_multistep.py "
          "at commit " + COMMIT + " (engine/scheduler/testdata/gen_karras.py)")
TOL = {"abs": 1e-4, "rel": 1e-3}
SHAPE = [1, 4, 4, 4]

# Every key of DPMSolverMultistepScheduler.__init__, as scheduler_config.json
# holds them, from SD 1.5's schedule (README "Base config for every case").
CONFIG = {
    "_class_name": "DPMSolverMultistepScheduler",
    "_diffusers_version": "0.40.0.dev0",
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "trained_betas": None,
    "solver_order": 2,
    "prediction_type": "epsilon",
    "thresholding": False,
    "dynamic_thresholding_ratio": 0.995,
    "sample_max_value": 1.0,
    "algorithm_type": "dpmsolver++",
    "solver_type": "midpoint",
    "lower_order_final": True,
    "euler_at_final": False,
    "use_karras_sigmas": True,
    "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
    "use_lu_lambdas": False,
    "use_flow_sigmas": False,
    "flow_shift": 1.0,
    "final_sigmas_type": "zero",
    "lambda_min_clipped": "-inf",
    "variance_type": None,
    "timestep_spacing": "linspace",
    "steps_offset": 1,
    "rescale_betas_zero_snr": False,
    "use_dynamic_shifting": False,
    "time_shift_type": "exponential",
}


class DPMKarras:
    """DPMSolverMultistepScheduler, dpmsolver++ order 2, Karras sigmas."""

    def __init__(self, cfg):
        assert cfg["beta_schedule"] == "scaled_linear" and cfg["algorithm_type"] == "dpmsolver++"
        assert cfg["solver_order"] == 2 and cfg["use_karras_sigmas"] and cfg["prediction_type"] == "epsilon"
        self.cfg = cfg
        n = cfg["num_train_timesteps"]
        # __init__: torch float32 tables, exactly as diffusers builds them.
        betas = torch.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, n, dtype=torch.float32) ** 2
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.step_index = None
        self.begin_index = None

    @staticmethod
    def _sigma_to_t(sigma, log_sigmas):
        log_sigma = np.log(np.maximum(sigma, 1e-10))
        dists = log_sigma - log_sigmas[:, np.newaxis]
        low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
        high_idx = low_idx + 1
        low = log_sigmas[low_idx]
        high = log_sigmas[high_idx]
        w = (low - log_sigma) / (low - high)
        w = np.clip(w, 0, 1)
        t = (1 - w) * low_idx + w * high_idx
        return t.reshape(sigma.shape)

    @staticmethod
    def _convert_to_karras(in_sigmas, num_inference_steps):
        # DPMSolverMultistepScheduler's config has no sigma_min/sigma_max.
        sigma_min = in_sigmas[-1].item()
        sigma_max = in_sigmas[0].item()
        rho = 7.0
        ramp = np.linspace(0, 1, num_inference_steps)
        min_inv_rho = sigma_min ** (1 / rho)
        max_inv_rho = sigma_max ** (1 / rho)
        return (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho

    def _schedule(self, acp, num_inference_steps):
        sigmas = np.array(((1 - acp) / acp) ** 0.5)
        log_sigmas = np.log(sigmas)
        sigmas = np.flip(sigmas).copy()
        sigmas = self._convert_to_karras(sigmas, num_inference_steps)
        timesteps = np.array([self._sigma_to_t(s, log_sigmas) for s in sigmas]).round()
        return sigmas, timesteps.astype(np.int64)

    def set_timesteps(self, num_inference_steps):
        sigmas, self.timesteps = self._schedule(self.alphas_cumprod.numpy(), num_inference_steps)
        assert self.cfg["final_sigmas_type"] == "zero"
        # scheduler.sigmas is float32; the steps below compute in float64.
        self.sigmas = np.concatenate([sigmas, [0]]).astype(np.float32).astype(np.float64)
        self.model_outputs = [None, None]
        self.lower_order_nums = 0
        self.step_index = None
        self.begin_index = None

    def set_begin_index(self, i):
        self.begin_index = i

    @staticmethod
    def _alpha_sigma(sigma):
        alpha_t = 1 / ((sigma ** 2 + 1) ** 0.5)
        return alpha_t, sigma * alpha_t

    def index_for_timestep(self, t):
        cand = np.nonzero(self.timesteps == t)[0]
        if len(cand) == 0:
            return len(self.timesteps) - 1
        if len(cand) > 1:
            return int(cand[1])
        return int(cand[0])

    def _init_step_index(self, t):
        if self.begin_index is None:
            self.step_index = self.index_for_timestep(t)
        else:
            self.step_index = self.begin_index

    def convert_model_output(self, model_output, sample):
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.step_index])
        return (sample - sigma_t * model_output) / alpha_t

    def first_order(self, m0, sample):
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.step_index + 1])
        alpha_s, sigma_s = self._alpha_sigma(self.sigmas[self.step_index])
        with np.errstate(divide="ignore"):
            lambda_t = np.log(alpha_t) - np.log(sigma_t)
        lambda_s = np.log(alpha_s) - np.log(sigma_s)
        h = lambda_t - lambda_s
        return (sigma_t / sigma_s) * sample - (alpha_t * (np.exp(-h) - 1.0)) * m0

    def second_order(self, outs, sample):
        i = self.step_index
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[i + 1])
        alpha_s0, sigma_s0 = self._alpha_sigma(self.sigmas[i])
        alpha_s1, sigma_s1 = self._alpha_sigma(self.sigmas[i - 1])
        lambda_t = np.log(alpha_t) - np.log(sigma_t)
        lambda_s0 = np.log(alpha_s0) - np.log(sigma_s0)
        lambda_s1 = np.log(alpha_s1) - np.log(sigma_s1)
        m0, m1 = outs[-1], outs[-2]
        h, h_0 = lambda_t - lambda_s0, lambda_s0 - lambda_s1
        r0 = h_0 / h
        D0, D1 = m0, (1.0 / r0) * (m0 - m1)
        assert self.cfg["solver_type"] == "midpoint"
        return ((sigma_t / sigma_s0) * sample - (alpha_t * (np.exp(-h) - 1.0)) * D0
                - 0.5 * (alpha_t * (np.exp(-h) - 1.0)) * D1)

    def step(self, model_output, t, sample):
        if self.step_index is None:
            self._init_step_index(t)
        n = len(self.timesteps)
        c = self.cfg
        lower_order_final = (self.step_index == n - 1) and (
            c["euler_at_final"] or (c["lower_order_final"] and n < 15) or c["final_sigmas_type"] == "zero")
        m = self.convert_model_output(model_output, sample)
        self.model_outputs[0] = self.model_outputs[1]
        self.model_outputs[1] = m
        if self.lower_order_nums < 1 or lower_order_final:
            prev = self.first_order(m, sample)
        else:
            prev = self.second_order(self.model_outputs, sample)
        if self.lower_order_nums < 2:
            self.lower_order_nums += 1
        self.step_index += 1
        return prev

    def add_noise(self, x0, noise, t):
        if self.begin_index is None:
            idx = self.index_for_timestep(t)
        elif self.step_index is not None:
            idx = self.step_index
        else:
            idx = self.begin_index
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[idx])
        return alpha_t * x0 + sigma_t * noise


def fake(x, t):
    i = np.arange(x.size, dtype=np.float64)
    return 0.8 * np.tanh(x) + 0.2 * np.sin(t / 137.0 + 0.01 * i)


def f32(v):
    return np.asarray(v, dtype=np.float32).astype(np.float64)


def trajectory(name, scheduler, steps, start, rng):
    s = DPMKarras(CONFIG)
    s.set_timesteps(steps)
    case = {"name": name, "source": SOURCE, "scheduler": scheduler, "config": CONFIG,
            "num_inference_steps": steps, "start_index": start,
            "timesteps": [int(t) for t in s.timesteps], "sigmas": [float(x) for x in s.sigmas],
            "init_noise_sigma": 1.0, "shape": SHAPE}
    if start == 0:
        g = f32(rng.standard_normal(64))
        x = f32(1.0 * g)
        case["g"] = g.tolist()
    else:
        x0, noise = f32(rng.standard_normal(64) * 0.5), f32(rng.standard_normal(64))
        s.set_begin_index(start)
        x = f32(s.add_noise(x0, noise, s.timesteps[start]))
        case["x0"], case["noise"] = x0.tolist(), noise.tolist()
    case["x_init"] = x.tolist()
    case["step_noise"] = None
    traj, eps = [], []
    for t in s.timesteps[start:]:
        e = fake(x, float(t))
        x = s.step(e, int(t), x)
        assert np.isfinite(x).all()
        traj.append(x.tolist())
        eps.append(e.tolist())
    case["trajectory"], case["eps"], case["tolerance"] = traj, eps, TOL
    return case


def add_noise_case(name, steps, index, rng):
    s = DPMKarras(CONFIG)
    s.set_timesteps(steps)
    x0, noise = f32(rng.standard_normal(64) * 0.5), f32(rng.standard_normal(64))
    s.set_begin_index(index)
    t = int(s.timesteps[index])
    return {"name": name, "source": SOURCE, "scheduler": "dpmpp_2m", "config": CONFIG,
            "num_inference_steps": steps, "kind": "add_noise", "timestep": t, "step_index": index,
            "shape": SHAPE, "x0": x0.tolist(), "noise": noise.tolist(),
            "expected": s.add_noise(x0, noise, t).tolist(), "tolerance": TOL}


def repeated_index(steps):
    """The second index of the first timestep that repeats, or None."""
    s = DPMKarras(CONFIG)
    s.set_timesteps(steps)
    ts = list(s.timesteps)
    for i in range(1, len(ts)):
        if ts[i] == ts[i - 1]:
            return i
    return None


def main():
    rng = np.random.default_rng(20260914)
    cases = [
        # dpmpp_2m honours use_karras_sigmas from the pack's config ...
        trajectory("dpmpp_2m_karras_20", "dpmpp_2m", 20, 0, rng),
        trajectory("dpmpp_2m_karras_20_start10", "dpmpp_2m", 20, 10, rng),
        # ... and dpmpp_2m_karras is the same scheduler.
        trajectory("dpmpp_2m_karras_name_30", "dpmpp_2m_karras", 30, 0, rng),
        # 18 steps: from float64 training tables one timestep would round the
        # other way (575 instead of diffusers' 576); see the docstring.
        trajectory("dpmpp_2m_karras_18_float32_tables", "dpmpp_2m_karras", 18, 0, rng),
        add_noise_case("add_noise_dpmpp_2m_karras_20_idx10", 20, 10, rng),
        add_noise_case("add_noise_dpmpp_2m_karras_20_idx19", 20, 19, rng),
    ]
    # With many steps the Karras timesteps repeat near t=0; add_noise at the
    # second of a repeated pair must use that step's sigma, not the first's.
    for steps in range(20, 201):
        i = repeated_index(steps)
        if i is not None:
            cases.append(add_noise_case("add_noise_dpmpp_2m_karras_%d_idx%d_repeated_t" % (steps, i), steps, i, rng))
            cases.append(trajectory("dpmpp_2m_karras_%d_start%d_repeated_t" % (steps, i), "dpmpp_2m", steps, i, rng))
            break
    for c in cases:
        with open(os.path.join(HERE, c["name"] + ".json"), "w") as f:
            json.dump(c, f, indent=1)
            f.write("\n")
        print(c["name"], c.get("timesteps", [c.get("timestep")])[:8])


if __name__ == "__main__":
    main()
