"""The seed study's two architectures as plain nn.Modules, and a registry to create them by name.

Attribute names follow the seed notebook exactly, so a state dict saved from the notebook's classes
loads here with strict=True and back (tests/test_models.py checks it). Nothing here knows about
Lightning: reportgen.training wraps any of these in one LightningModule.

Shapes in comments: B batch, C channels, H/W height/width, N patches, E embedding, h heads.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reportgen.config import IMAGE_SIZE, Config


class Dropout(nn.Dropout):
    """nn.Dropout, with its mask drawn about 3x faster on the CPU (same name, no parameters).

    torch's CPU generator (mt19937) draws one value at a time on one thread: in a ViT training step on
    2 CPU cores its dropout masks took 15 % of the profile. In training on the CPU, the mask comes
    instead from numpy's SFC64 generator, seeded by one draw from torch's global generator, so that
    torch.manual_seed still decides it and a resumed epoch repeats it. An element is kept when its 32
    random bits fall below round((1 - p) 2**32): a keep probability exact to 2**-32. On GPUs and in
    compiled graphs this is torch's own dropout.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu" or torch.compiler.is_compiling():
            return super().forward(x)
        return x * _scaled_keep_mask(x.shape, self.p, x.dtype)


def _scaled_keep_mask(shape: torch.Size, p: float, dtype: torch.dtype) -> torch.Tensor:
    """1/(1-p) where an element is kept, 0 where it is dropped, for a CPU tensor of `shape`."""
    n = math.prod(shape)
    seed = int(torch.randint(2**63 - 1, ()))
    bits = np.random.SFC64(seed).random_raw((n + 1) // 2).view(np.int32)[:n]  # uniform over [-2**31, 2**31)
    keep = torch.from_numpy(bits).view(shape) < round((1 - p) * 2**32) - 2**31
    # bool -> uint8 is a free view, and uint8 -> float a vectorised conversion (bool -> float is 7x slower).
    return keep.view(torch.uint8).to(dtype).mul_(1 / (1 - p))


class ResBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (1x1 conv-BN when the width changes)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) -> (B, Cout, H, W)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CNN(nn.Module):
    """Input BatchNorm, then per stage ResBlock -> MaxPool(2) -> Dropout, then an MLP head."""

    prefers_channels_last = True  # all-convolutional trunk: NHWC avoids layout conversions

    def __init__(self, num_classes: int = 10, channels: tuple[int, ...] = (32, 64, 128),
                 hidden_dim: int = 512, dropout: float = 0.1):
        super().__init__()
        self.whiten = nn.BatchNorm2d(3)  # learns its own input standardisation, as in the seed
        layers: list[nn.Module] = []
        widths = (3, *channels)
        for cin, cout in zip(widths, widths[1:]):
            layers += [ResBlock(cin, cout), nn.MaxPool2d(2), Dropout(dropout)]
        self.features = nn.Sequential(*layers)  # 32x32 -> 16 -> 8 -> 4 for three stages
        side = IMAGE_SIZE // 2 ** len(channels)
        self.classifier = nn.Sequential(
            nn.Linear(channels[-1] * side * side, hidden_dim),  # 128*4*4 = 2048 -> 512
            nn.ReLU(),
            Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # Kaiming (fan-out) for convs, since ReLU follows them; small normal for the linear head.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) -> (B, classes)
        x = self.features(self.whiten(x))
        return self.classifier(x.flatten(1))

    @property
    def last_stage(self) -> nn.Module:
        """The last ResBlock, whose (B, C, H, W) output Grad-CAM explains (reportgen.analysis.explanations)."""
        return [layer for layer in self.features if isinstance(layer, ResBlock)][-1]

    @torch.no_grad()
    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The feature maps after each ResBlock (before pooling): [(B, C_s, H_s, W_s)] per stage."""
        outputs = []
        x = self.whiten(x)
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, ResBlock):
                outputs.append(x)
        return outputs


class PatchEmbedding(nn.Module):
    """Non-overlapping p x p patches projected by one strided conv, CLS token prepended, + positions."""

    def __init__(self, img_size: int, patch_size: int, in_channels: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        num_patches = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, N+1, E)
        x = self.proj(x).flatten(2).transpose(1, 2)  # (B, E, H/p, W/p) -> (B, N, E)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat((cls, x), dim=1) + self.pos_embed


def _use_explicit_attention(q: torch.Tensor) -> bool:
    """Whether to compute softmax(q k^T / sqrt(d)) v as two matmuls rather than with the fused kernel.

    bf16 on CPU: PyTorch's fused attention is slow for short sequences; at 65 tokens of 32 dims its
    backward takes ~3x as long as two batched matmuls and a softmax (reportgen bench, ViT training
    steps). CUDA with deterministic algorithms (train.deterministic): the fused kernels' backward may
    sum in a varying order, the matmuls do not. Elsewhere the fused kernel is the faster one.
    """
    if q.device.type == "cpu":
        return q.dtype == torch.bfloat16
    return q.device.type == "cuda" and torch.are_deterministic_algorithms_enabled()


class SelfAttention(nn.Module):
    """Multi-head self-attention with nn.MultiheadAttention's parameter names and initialisation.

    Training uses PyTorch's fused scaled_dot_product_attention where it is the better choice (see
    _use_explicit_attention); `return_weights=True` computes the softmax weights explicitly instead,
    for the attention overlays.
    """

    def __init__(self, embed_dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))  # q, k, v stacked
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        B, T, E = x.shape  # T = N + 1 tokens
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, T, 3E)
        q, k, v = qkv.view(B, T, 3, self.num_heads, E // self.num_heads).permute(2, 0, 3, 1, 4)  # (B, h, T, E/h)
        if return_weights or _use_explicit_attention(q):
            weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)  # (B, h, T, T)
            out = weights @ v
        else:
            weights, out = None, F.scaled_dot_product_attention(q, k, v)
        out = self.out_proj(out.transpose(1, 2).reshape(B, T, E))
        return (out, weights) if return_weights else out


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer: x + drop(attn(LN(x))), then x + drop(MLP(LN(x))) with GELU."""

    def __init__(self, embed_dim: int, num_heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim)
        self.attn = SelfAttention(embed_dim, num_heads)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.mlp = nn.Sequential(nn.Linear(embed_dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, embed_dim))
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, return_weights: bool = False):  # (B, T, E) -> (B, T, E)
        attended = self.attn(self.norm1(x), return_weights=return_weights)
        attn_out, weights = attended if return_weights else (attended, None)
        x = x + self.dropout(attn_out)
        x = x + self.dropout(self.mlp(self.norm2(x)))
        return (x, weights) if return_weights else x


class ViT(nn.Module):
    """Patch embedding, `depth` encoder layers, LayerNorm on the CLS token, linear head."""

    def __init__(self, num_classes: int = 10, img_size: int = IMAGE_SIZE, patch_size: int = 4,
                 embed_dim: int = 128, depth: int = 6, num_heads: int = 4, mlp_dim: int = 512,
                 dropout: float = 0.1):
        super().__init__()
        self.patch_embed = PatchEmbedding(img_size, patch_size, 3, embed_dim)
        self.encoder = nn.Sequential(*[EncoderLayer(embed_dim, num_heads, mlp_dim, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) -> (B, classes)
        x = self.encoder(self.patch_embed(x))
        return self.head(self.norm(x[:, 0]))

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Softmax attention weights of every encoder layer, first to last: [(B, h, N+1, N+1)] per layer."""
        tokens, weights = self.patch_embed(x), []
        for layer in self.encoder:
            tokens, layer_weights = layer(tokens, return_weights=True)
            weights.append(layer_weights)
        return weights

    @torch.no_grad()
    def last_layer_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax attention weights of the last encoder layer: (B, h, N+1, N+1)."""
        tokens = self.patch_embed(x)
        for layer in self.encoder[:-1]:
            tokens = layer(tokens)
        _, weights = self.encoder[-1](tokens, return_weights=True)
        return weights


def _create_cnn(config: Config, num_classes: int) -> nn.Module:
    c = config.cnn
    return CNN(num_classes, tuple(c.channels), c.hidden_dim, c.dropout)


def _create_vit(config: Config, num_classes: int) -> nn.Module:
    v = config.vit
    return ViT(num_classes, IMAGE_SIZE, v.patch_size, v.embed_dim, v.depth, v.num_heads, v.mlp_dim, v.dropout)


# key -> factory (config, number of classes) -> nn.Module. Everything else about a model (its display name,
# config section and description) is its torch-free entry in reportgen.architectures, under the same key.
FACTORIES: dict[str, Callable[[Config, int], nn.Module]] = {"cnn": _create_cnn, "vit": _create_vit}


def create_model(name: str, config: Config, num_classes: int) -> nn.Module:
    """Build the registered model `name` from its section of `config`."""
    return FACTORIES[name](config, num_classes)


# Bounds on a model that a bundle's config describes, checked before it is built and re-run on the test images
# (verify --deep, grade --deep): a stranger's config must not make the grader's machine build a 2 GB model or
# re-predict 1,025-token sequences. The original study's models have 1.35M / 1.21M parameters and 0.08 / 0.17
# GFLOPs per image; these bounds are about 40x and 6x those (docs/bundle.md).
MAX_PARAMETERS = 50_000_000
MAX_FLOPS_PER_IMAGE = 1_000_000_000


def model_cost(name: str, config: Config, num_classes: int) -> tuple[int, int]:
    """(parameters, forward FLOPs for one image) of the registered model `name`, counted on the meta device:
    shapes only, no memory allocated and nothing computed, whatever size the config asks for."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = create_model(name, config, num_classes).eval()
        image = torch.empty(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    with FlopCounterMode(display=False) as counter:
        model(image)
    return sum(p.numel() for p in model.parameters()), counter.get_total_flops()


def size_problem(name: str, config: Config, num_classes: int) -> str | None:
    """Why the model `name` of `config` is over MAX_PARAMETERS or MAX_FLOPS_PER_IMAGE, or None."""
    parameters, flops = model_cost(name, config, num_classes)
    if parameters > MAX_PARAMETERS:
        return f"the config describes {parameters:,} parameters, over the {MAX_PARAMETERS:,} reportgen re-runs"
    if flops > MAX_FLOPS_PER_IMAGE:
        return (f"the config describes {flops / 1e9:.2f} GFLOPs per image, over the {MAX_FLOPS_PER_IMAGE / 1e9:g} "
                "reportgen re-runs")
    return None


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe_architecture(model: nn.Module) -> list[dict]:
    """The model's layers as table rows: name, type, output shape for one image, parameters.

    Rows are the model's top-level modules, with Sequential containers opened one level, so the
    report's architecture tables come from the model that was trained, not from prose.
    """
    rows: list[dict] = []
    hooks = []

    def record(name: str, module: nn.Module):
        row = {"name": name, "type": type(module).__name__, "output_shape": None,
               "parameters": sum(p.numel() for p in module.parameters())}
        rows.append(row)

        def hook(_module, _inputs, output):
            row["output_shape"] = list(output.shape[1:])  # drop the batch dimension

        hooks.append(module.register_forward_hook(hook))

    for name, child in model.named_children():
        if isinstance(child, nn.Sequential):
            for sub_name, sub in child.named_children():
                record(f"{name}.{sub_name}", sub)
        else:
            record(name, child)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            param = next(model.parameters())
            model(torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE, device=param.device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return rows
