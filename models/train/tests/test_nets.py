"""The source-residual parameterisation of the small configurations: the UNet
predicts x0 = c_s + delta and returns the epsilon it implies."""
import torch

from likeness_train import nets


def _unet(**over):
    torch.manual_seed(0)
    return nets.UNet2DConditionModel(nets.config("micro", **over)).eval()


def _x0(unet, sample, t, eps):
    a = nets._alphas_cumprod()[t].view(-1, 1, 1, 1)
    return (sample[:, :4] - (1 - a).sqrt() * eps) / a.sqrt()


def test_untrained_residual_unet_predicts_the_input_image():
    u = _unet()
    sample = torch.randn(3, 8, 8, 8)
    t = torch.tensor([0, 500, 999])
    ctx = torch.randn(3, 81, 32)
    with torch.no_grad():
        eps = u(sample, t.float(), ctx)
    # conv_out starts at zero, so the implied clean latent is c_s itself.
    assert torch.allclose(_x0(u, sample, t, eps), sample[:, 4:], atol=1e-4)


def test_residual_eps_interpolates_fractional_timesteps():
    u = _unet()
    sample = torch.randn(2, 8, 4, 4)
    delta = torch.randn(2, 4, 4, 4)
    acp = nets._alphas_cumprod()
    got = u.residual_eps(sample, torch.tensor([10.25, 998.5]), delta)
    a = torch.stack([0.75 * acp[10] + 0.25 * acp[11], 0.5 * acp[998] + 0.5 * acp[999]]).view(-1, 1, 1, 1)
    want = (sample[:, :4] - a.sqrt() * (sample[:, 4:] + delta)) / (1 - a).sqrt()
    assert torch.allclose(got, want, atol=1e-5)


def test_residual_is_off_for_sd15_and_keeps_the_state_dict():
    assert not nets.config("sd15").get("source_residual")
    plain = _unet(source_residual=False).state_dict().keys()
    assert set(_unet().state_dict().keys()) == set(plain)  # the schedule is not a weight
