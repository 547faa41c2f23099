"""The sd15 configuration is diffusers' UNet2DConditionModel for SD 1.5 with
8 input channels, so real SD 1.5 / InstructPix2Pix weights load into it."""
import pytest
import torch

from likeness_train import nets

# Tensors of the real SD 1.5 UNet (diffusers' names and shapes), written out
# here rather than derived from our module, so a layout drift fails.
SD15_KNOWN = {
    "conv_in.weight": (320, 4, 3, 3),
    "time_embedding.linear_1.weight": (1280, 320),
    "time_embedding.linear_2.weight": (1280, 1280),
    "down_blocks.0.resnets.0.conv1.weight": (320, 320, 3, 3),
    "down_blocks.0.resnets.0.time_emb_proj.weight": (320, 1280),
    "down_blocks.0.attentions.0.proj_in.weight": (320, 320, 1, 1),
    "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight": (320, 320),
    "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight": (320, 768),
    "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight": (2560, 320),
    "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight": (320, 1280),
    "down_blocks.0.downsamplers.0.conv.weight": (320, 320, 3, 3),
    "down_blocks.1.resnets.0.conv_shortcut.weight": (640, 320, 1, 1),
    "down_blocks.3.resnets.1.conv2.weight": (1280, 1280, 3, 3),
    "mid_block.attentions.0.transformer_blocks.0.attn2.to_v.weight": (1280, 768),
    "mid_block.resnets.1.norm2.weight": (1280,),
    "up_blocks.0.resnets.0.conv1.weight": (1280, 2560, 3, 3),
    "up_blocks.0.upsamplers.0.conv.weight": (1280, 1280, 3, 3),
    "up_blocks.1.attentions.2.transformer_blocks.0.norm3.weight": (1280,),
    "up_blocks.3.resnets.0.conv_shortcut.weight": (320, 960, 1, 1),
    "up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_out.0.bias": (320,),
    "conv_norm_out.weight": (320,),
    "conv_out.weight": (4, 320, 3, 3),
}
SD15_PARAMS = 859_520_964  # SD 1.5's UNet (4 input channels)


@pytest.fixture(scope="module")
def sd15_unet():
    torch.manual_seed(0)
    return nets.UNet2DConditionModel(nets.config("sd15"))


def test_sd15_layout_is_diffusers(sd15_unet):
    sd = sd15_unet.state_dict()
    for k, shape in SD15_KNOWN.items():
        if k == "conv_in.weight":
            shape = (320, 8, 3, 3)  # the MCDM's 8 input channels
        assert k in sd, k
        assert tuple(sd[k].shape) == shape, k
    assert nets.count(sd15_unet) == SD15_PARAMS + 320 * 4 * 9


def test_loads_a_4_channel_diffusers_file(sd15_unet, tmp_path):
    # a random-weight file in diffusers' layout, as SD 1.5 ships it (4 channels)
    k = "up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_out.0.bias"
    path = tmp_path / "diffusion_pytorch_model.bin"
    sd = {n: torch.randn_like(v) for n, v in sd15_unet.state_dict().items()}
    sd["conv_in.weight"] = sd["conv_in.weight"][:, :4].clone()
    keep = {n: sd[n].clone() for n in ("conv_in.weight", k)}
    torch.save(sd, path)
    del sd  # a 3.4 GB model: keep one copy in memory besides the module's
    nets.load_diffusers_unet(sd15_unet, str(path))
    got = sd15_unet.state_dict()
    assert torch.equal(got["conv_in.weight"][:, :4], keep["conv_in.weight"])
    assert torch.count_nonzero(got["conv_in.weight"][:, 4:]) == 0
    assert torch.equal(got[k], keep[k])


def test_refuses_a_renamed_tensor_by_name(sd15_unet):
    sd = dict(sd15_unet.state_dict())
    sd["not_a_unet.weight"] = sd.pop("conv_out.weight")
    with pytest.raises(ValueError, match="conv_out.weight"):
        nets.load_diffusers_unet(sd15_unet, sd)
    sd = dict(sd15_unet.state_dict())
    sd["conv_out.weight"] = torch.zeros(4, 320, 1, 1)
    with pytest.raises(ValueError, match=r"conv_out.weight has shape \(4, 320, 1, 1\)"):
        nets.load_diffusers_unet(sd15_unet, sd)
