"""The MCDM's networks.

The UNet follows diffusers' UNet2DConditionModel layout and state-dict names
(conv_in, time_embedding.linear_1, down_blocks.i.resnets.j.conv1,
down_blocks.i.attentions.j.transformer_blocks.0.attn2.to_k, ...), so the
`sd15` configuration can be initialised from real Stable Diffusion 1.5 or
InstructPix2Pix weights; the `tiny` configuration is the same code with small
widths. The autoencoder, text encoder, image encoder and projector are small
networks of our own that speak the model contract's tensors.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    # A starter-pack model that trains on 2 CPU cores in about an hour.
    # Attention only at 8x8 (and the mid block): attention at 16x16 cost 43% of
    # a training step on one CPU thread (2.35 s vs 1.35 s at batch 32) and the
    # conditions reach the finer levels through the up blocks anyway.
    # source_residual: see UNet2DConditionModel.forward.
    "tiny": dict(
        resolution=128, latent_factor=4, latent_channels=4,
        ae_channels=(32, 64, 128), ae_res_blocks=(0, 1, 2),
        text_dim=128, text_layers=2, text_heads=4, text_buckets=2048,
        image_dim=256, image_tokens=4,
        block_out_channels=(32, 96, 128), layers_per_block=1,
        attention_blocks=(False, False, True), attention_head_dim=32,
        norm_groups=16, sample_channels=8, source_residual=True,
    ),
    # For tests: trains for a few steps in seconds.
    "micro": dict(
        resolution=64, latent_factor=8, latent_channels=4,
        ae_channels=(8, 16, 32, 32), ae_res_blocks=(0, 0, 0, 1),
        text_dim=32, text_layers=1, text_heads=2, text_buckets=2048,
        image_dim=32, image_tokens=4,
        block_out_channels=(16, 32), layers_per_block=1,
        attention_blocks=(False, True), attention_head_dim=16,
        norm_groups=8, sample_channels=8, source_residual=True,
    ),
    # The layout of SD 1.5's UNet with 8 input channels (InstructPix2Pix's),
    # cross-attention width 768; meant for GPUs (torchrun).
    "sd15": dict(
        resolution=512, latent_factor=8, latent_channels=4,
        ae_channels=(64, 128, 256, 256), ae_res_blocks=(1, 1, 1, 2),
        text_dim=768, text_layers=4, text_heads=12, text_buckets=49408,
        image_dim=768, image_tokens=4,
        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
        attention_blocks=(True, True, True, False), attention_head_dim=8,
        head_count=8, norm_groups=32, sample_channels=8,
    ),
}


def config(name, **over):
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}: want one of {sorted(CONFIGS)}")
    c = dict(CONFIGS[name])
    c.update(over)
    c["name"] = name
    return c


# ---------------------------------------------------------------- UNet (diffusers layout)

def timestep_embedding(t, dim):
    """diffusers' get_timestep_embedding with flip_sin_to_cos=True, shift 0."""
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    emb = t.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear_1 = nn.Linear(cin, cout)
        self.linear_2 = nn.Linear(cout, cout)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Attention(nn.Module):
    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(ctx_dim, dim, bias=False)
        self.to_v = nn.Linear(ctx_dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim), nn.Dropout(0.0)])

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        b, n, c = x.shape
        h = self.heads
        q = self.to_q(x).reshape(b, n, h, c // h).transpose(1, 2)
        k = self.to_k(ctx).reshape(b, ctx.shape[1], h, c // h).transpose(1, 2)
        v = self.to_v(ctx).reshape(b, ctx.shape[1], h, c // h).transpose(1, 2)
        w = torch.softmax(q @ k.transpose(-1, -2) * (c // h) ** -0.5, dim=-1)
        o = (w @ v).transpose(1, 2).reshape(b, n, c)
        return self.to_out[0](o)


class GEGLU(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Linear(cin, cout * 2)

    def forward(self, x):
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, ctx_dim, heads)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, ctx):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), ctx)
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    def __init__(self, dim, ctx_dim, heads, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(dim, ctx_dim, heads)])
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x, ctx):
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x))
        h = h.reshape(b, c, hh * ww).transpose(1, 2)
        for blk in self.transformer_blocks:
            h = blk(h, ctx)
        h = h.transpose(1, 2).reshape(b, c, hh, ww)
        return self.proj_out(h) + x


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _Block(nn.Module):
    """A down or up block: resnets (each optionally followed by an attention)
    and an optional resampler, named as diffusers names them."""

    def __init__(self, resnets, attentions, sampler_name, sampler):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        if attentions:
            self.attentions = nn.ModuleList(attentions)
        else:
            self.attentions = None
        if sampler is not None:
            setattr(self, sampler_name, nn.ModuleList([sampler]))
        self.sampler_name = sampler_name if sampler is not None else None


class UNet2DConditionModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = cfg["block_out_channels"]
        groups = cfg["norm_groups"]
        temb = ch[0] * 4
        ctx = cfg["text_dim"]
        lpb = cfg["layers_per_block"]
        attn = cfg["attention_blocks"]

        def heads(c):
            # SD 1.5 has 8 heads everywhere ("attention_head_dim": 8 is really
            # the head count there); tiny uses a fixed head width.
            return cfg.get("head_count") or max(1, c // cfg["attention_head_dim"])

        self.conv_in = nn.Conv2d(cfg["sample_channels"], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        skips = [ch[0]]
        cin = ch[0]
        for i, c in enumerate(ch):
            last = i == len(ch) - 1
            res, att = [], []
            for j in range(lpb):
                res.append(ResnetBlock2D(cin if j == 0 else c, c, temb, groups))
                if attn[i]:
                    att.append(Transformer2DModel(c, ctx, heads(c), groups))
                skips.append(c)
            down = None if last else Downsample2D(c)
            if down is not None:
                skips.append(c)
            self.down_blocks.append(_Block(res, att, "downsamplers", down))
            cin = c
        self.mid_block = _Block(
            [ResnetBlock2D(ch[-1], ch[-1], temb, groups), ResnetBlock2D(ch[-1], ch[-1], temb, groups)],
            [Transformer2DModel(ch[-1], ctx, heads(ch[-1]), groups)], None, None)
        self.up_blocks = nn.ModuleList()
        rch = list(reversed(ch))
        rattn = list(reversed(attn))
        prev = ch[-1]
        for i, c in enumerate(rch):
            last = i == len(ch) - 1
            res, att = [], []
            for j in range(lpb + 1):
                skip = skips.pop()
                res.append(ResnetBlock2D(prev + skip, c, temb, groups))
                prev = c
                if rattn[i]:
                    att.append(Transformer2DModel(c, ctx, heads(c), groups))
            up = None if last else Upsample2D(c)
            self.up_blocks.append(_Block(res, att, "upsamplers", up))
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=1e-5)
        self.conv_out = nn.Conv2d(ch[0], cfg["latent_channels"], 3, padding=1)
        self.temb_dim = ch[0]
        self.latent_channels = cfg["latent_channels"]
        self.source_residual = bool(cfg.get("source_residual"))
        if self.source_residual:
            # Not in the state dict: a diffusers checkpoint has no such tensor.
            self.register_buffer("acp", _alphas_cumprod(), persistent=False)
            # Start exactly at "the edit is the input": x0 = c_s.
            nn.init.zeros_(self.conv_out.weight)
            nn.init.zeros_(self.conv_out.bias)

    def forward(self, sample, timestep, encoder_hidden_states):
        if timestep.dim() == 0:
            timestep = timestep.expand(sample.shape[0])
        emb = self.time_embedding(timestep_embedding(timestep, self.temb_dim))
        ctx = encoder_hidden_states
        h = self.conv_in(sample)
        skips = [h]
        for blk in self.down_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(h, emb)
                if blk.attentions is not None:
                    h = blk.attentions[j](h, ctx)
                skips.append(h)
            if blk.sampler_name:
                h = blk.downsamplers[0](h)
                skips.append(h)
        m = self.mid_block
        h = m.resnets[0](h, emb)
        h = m.attentions[0](h, ctx)
        h = m.resnets[1](h, emb)
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(torch.cat([h, skips.pop()], dim=1), emb)
                if blk.attentions is not None:
                    h = blk.attentions[j](h, ctx)
            if blk.sampler_name:
                h = blk.upsamplers[0](h)
        out = self.conv_out(F.silu(self.conv_norm_out(h)))
        if not self.source_residual:
            return out
        return self.residual_eps(sample, timestep, out)

    def residual_eps(self, sample, timestep, delta):
        """The source-residual parameterisation of a small from-scratch MCDM.

        The network predicts the clean latent as the input image's latent
        plus a change, x0 = c_s + delta, and returns the epsilon that x0
        implies, eps = (z_t - sqrt(a_t) x0) / sqrt(1 - a_t); the graph
        still speaks the contract's epsilon. Copying the photo, which
        an InstructPix2Pix-initialised UNet already knows, then costs no
        training: outside the change the network only has to say "no
        change". a_t is interpolated for fractional timesteps (Euler
        schedulers give them)."""
        c = self.latent_channels
        zt, cs = sample[:, :c], sample[:, c:2 * c]
        t = timestep.float().clamp(0, self.acp.shape[0] - 1)
        lo = torch.floor(t)
        hi = torch.clamp(lo + 1, max=self.acp.shape[0] - 1)
        w = t - lo
        a = self.acp[lo.long()] * (1 - w) + self.acp[hi.long()] * w
        a = a.view(-1, 1, 1, 1)
        x0 = cs + delta
        return (zt - a.sqrt() * x0) / (1 - a).sqrt()


def _alphas_cumprod(n=1000, start=0.00085, end=0.012):
    """SD's scaled-linear schedule (the packs' scheduler_config.json)."""
    betas = torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def widen_conv_in(state, key="conv_in.weight", channels=8):
    """Zero-initialise the extra input channels of a 4-channel UNet's conv_in,
    as the paper (and InstructPix2Pix) do when starting from SD."""
    w = state[key]
    if w.shape[1] >= channels:
        return state
    extra = torch.zeros(w.shape[0], channels - w.shape[1], *w.shape[2:], dtype=w.dtype)
    state = dict(state)
    state[key] = torch.cat([w, extra], dim=1)
    return state


# ---------------------------------------------------------------- autoencoder

class _Res(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Encoder(nn.Module):
    """RGB in [-1,1] [B,3,H,W] -> latent mean [B,4,H/f,W/f] (deterministic)."""

    def __init__(self, cfg):
        super().__init__()
        ch, nres = cfg["ae_channels"], cfg["ae_res_blocks"]
        layers = [nn.Conv2d(3, ch[0], 3, padding=1)]
        for i, c in enumerate(ch):
            layers += [_Res(c) for _ in range(nres[i])]
            if i < len(ch) - 1:
                layers.append(nn.SiLU())
                layers.append(nn.Conv2d(c, ch[i + 1], 3, stride=2, padding=1))
        layers += [nn.SiLU(), nn.Conv2d(ch[-1], cfg["latent_channels"], 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, nres = list(reversed(cfg["ae_channels"])), list(reversed(cfg["ae_res_blocks"]))
        layers = [nn.Conv2d(cfg["latent_channels"], ch[0], 3, padding=1)]
        for i, c in enumerate(ch):
            layers += [_Res(c) for _ in range(max(1, nres[i]))]
            if i < len(ch) - 1:
                layers += [nn.Upsample(scale_factor=2.0, mode="nearest"),
                           nn.Conv2d(c, ch[i + 1], 3, padding=1)]
        layers += [nn.SiLU(), nn.Conv2d(ch[-1], 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


# ---------------------------------------------------------------- conditions

class TextEncoder(nn.Module):
    """CLIP token ids [B,77] -> [B,77,D].

    A full 49,408-row table would dominate a small pack, so ids are hashed into
    `text_buckets` rows (id mod buckets); the trainer checks that the words it
    trains on do not collide. A small pre-LN transformer then mixes the tokens."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["text_dim"]
        self.buckets = cfg["text_buckets"]
        self.token_embedding = nn.Embedding(self.buckets, d)
        self.position_embedding = nn.Parameter(torch.zeros(77, d))
        self.layers = nn.ModuleList([nn.ModuleDict({
            "ln1": nn.LayerNorm(d), "attn": Attention(d, d, cfg["text_heads"]),
            "ln2": nn.LayerNorm(d), "mlp": nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d)),
        }) for _ in range(cfg["text_layers"])])
        self.final_layer_norm = nn.LayerNorm(d)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding, std=0.01)

    def forward(self, input_ids):
        ids = torch.remainder(input_ids.long(), self.buckets)
        x = self.token_embedding(ids) + self.position_embedding[None]
        for l in self.layers:
            x = x + l["attn"](l["ln1"](x))
            x = x + l["mlp"](l["ln2"](x))
        return self.final_layer_norm(x)


class ImageEncoder(nn.Module):
    """CLIP-normalised pixel_values [B,3,224,224] -> image_embeds [B,Dc].

    It first averages 7x7 blocks (224 -> 32): the identity cues it needs are
    colours and layout, and the pooling makes it indifferent to the exact
    resampling filter another implementation uses."""

    def __init__(self, cfg):
        super().__init__()
        self.pool = nn.AvgPool2d(7)
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(64, 128, 3, stride=2, padding=1), nn.SiLU())
        self.proj = nn.Linear(128 * 16, cfg["image_dim"])

    def forward_pooled(self, x32):
        return self.proj(self.net(x32).flatten(1))

    def forward(self, pixel_values):
        return self.forward_pooled(self.pool(pixel_values))


class ImageProjector(nn.Module):
    """(c_s latent [B,4,h,w], image_embeds [B,Dc]) -> K image tokens [B,K,D]."""

    def __init__(self, cfg):
        super().__init__()
        d, k = cfg["text_dim"], cfg["image_tokens"]
        self.k, self.d = k, d
        self.side = int(round(math.sqrt(k)))
        self.latent = nn.Sequential(
            nn.Conv2d(cfg["latent_channels"], 64, 3, stride=2, padding=1), nn.SiLU(),
            nn.Conv2d(64, d, 3, stride=2, padding=1))
        self.embed = nn.Linear(cfg["image_dim"], k * d)
        self.norm = nn.LayerNorm(d)

    def forward(self, latent, image_embeds):
        g = F.adaptive_avg_pool2d(self.latent(latent), self.side)  # [B,D,s,s]
        tok = g.flatten(2).transpose(1, 2)
        tok = tok + self.embed(image_embeds).reshape(-1, self.k, self.d)
        return self.norm(tok)


class MCDM(nn.Module):
    """Everything but the autoencoder, trained together."""

    def __init__(self, cfg):
        super().__init__()
        self.unet = UNet2DConditionModel(cfg)
        self.text_encoder = TextEncoder(cfg)
        self.image_encoder = ImageEncoder(cfg)
        self.image_projector = ImageProjector(cfg)


class Autoencoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)


def count(m):
    return sum(p.numel() for p in m.parameters())


def load_diffusers_unet(unet, source):
    """Initialise our UNet from a diffusers UNet2DConditionModel state dict
    (SD 1.5's or InstructPix2Pix's `diffusion_pytorch_model.bin`, or a dict).

    Names must match one for one; a 4-channel conv_in is widened to the
    UNet's input channels with zeros (the paper's and InstructPix2Pix's
    initialisation). Raises ValueError naming the first missing, unexpected
    or mis-shaped tensor."""
    state = source if isinstance(source, dict) else torch.load(source, map_location="cpu")
    name = "state dict" if isinstance(source, dict) else str(source)
    own = unet.state_dict()
    state = widen_conv_in(state, channels=own["conv_in.weight"].shape[1])
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        raise ValueError(f"{name}: not a UNet2DConditionModel of this layout: "
                         f"{len(missing)} missing (first {missing[:1]}), {len(extra)} unexpected (first {extra[:1]})")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(f"{name}: {k} has shape {tuple(state[k].shape)}, this config wants {tuple(v.shape)}")
    unet.load_state_dict({k: state[k].to(v.dtype) for k, v in own.items()})
    return unet
