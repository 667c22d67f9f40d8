"""What a model looks at: a saliency map per test image, and how faithful it is (a deletion curve).

The images are the same for every model: the first `analysis.explanation_images` test images of
each class, in test-set order (correct or not: the true class's probability is what is measured).
The method follows what the model can do, never its name:

* a model with attention weights (`attention_weights(x)`: every layer's (B, h, T, T)) gets attention
  rollout (Abnar and Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020), written here:
  no maintained library computes it for a plain nn.Module;
* a model with a convolutional last stage (`last_stage`, a module with (B, C, H, W) output) gets
  Grad-CAM of the true class on that stage, by captum's LayerGradCam.

Beside each model's own method, every model gets the same class-specific, model-agnostic one: occlusion of
the true class (captum's Occlusion) on the deletion grid, one patch at a time set to 0 (the mean colour), so
that the two models' faithfulness can be compared by one method. captum may be missing: then the methods that
need it (Grad-CAM, occlusion) are skipped, the file says so in its `skipped` field, and the build goes on.

Faithfulness (deletion, as in Petsiuk et al.'s RISE paper, 2018): the image is cut into a G x G grid
of patches; the patches are occluded (set to 0 after normalisation, the training set's mean colour)
in order of saliency, most salient first, in `deletion_steps` equal groups; after each group the true
class's probability is recorded. The same is done in `deletion_random_orders` random orders per
image (seeded by analysis.seed and the image's test index, so every model gets the same orders);
their mean curve is the baseline. The area under each curve is left to the report.

Shapes: M images, G grid side, S steps; images (M, 3, 32, 32).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reportgen.analysis import INFERENCE_BATCH
from reportgen.config import Config
from reportgen.data import ImageData, normalize

ROLLOUT, GRAD_CAM, OCCLUSION = "attention rollout", "Grad-CAM", "occlusion"
CAPTUM_MISSING = "captum not installed"


def captum_available() -> bool:
    """Whether captum can be imported (Grad-CAM and occlusion need it); part of the settings, so that installing
    it later recomputes what was skipped."""
    return importlib.util.find_spec("captum") is not None


def explanation_method(model: nn.Module) -> str | None:
    """Which saliency method the model supports: attention rollout, Grad-CAM, or None for neither."""
    if hasattr(model, "attention_weights"):
        return ROLLOUT
    if hasattr(model, "last_stage"):
        return GRAD_CAM
    return None


def chosen_images(labels: np.ndarray, num_classes: int, per_class: int) -> np.ndarray:
    """Test indices of the first `per_class` images of each class (fewer where a class has fewer), in class order."""
    return np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in range(num_classes)]).astype(np.int64)


def attention_rollout(weights: list[torch.Tensor]) -> torch.Tensor:
    """Rollout of per-layer attention [(M, h, T, T)] -> (M, T - 1): how much the CLS token draws on each patch.

    Abnar and Zuidema (2020): average the heads, add the residual connection as 0.5 A + 0.5 I,
    renormalise the rows, and multiply the layers' matrices from the first layer up.
    """
    tokens = weights[0].shape[-1]
    identity = torch.eye(tokens, dtype=torch.float64, device=weights[0].device)
    rollout = identity.expand(weights[0].shape[0], tokens, tokens)
    for layer in weights:
        mixed = 0.5 * layer.double().mean(dim=1) + 0.5 * identity
        rollout = (mixed / mixed.sum(dim=-1, keepdim=True)) @ rollout
    return rollout[:, 0, 1:].float()


def rollout_maps(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Attention rollout of normalised images (M, 3, H, W) on the model's patch grid: (M, g, g)."""
    flat = attention_rollout(model.attention_weights(x))
    side = int(round(flat.shape[1] ** 0.5))
    return flat.view(-1, side, side)


def grad_cam_maps(model: nn.Module, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Grad-CAM of the true class on the model's last stage (captum LayerGradCam, ReLU applied): (M, H_s, W_s)."""
    from captum.attr import LayerGradCam

    maps = LayerGradCam(model, model.last_stage).attribute(x, target=labels, relu_attributions=True)
    return maps[:, 0].detach()


def occlusion_maps(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, grid: int) -> torch.Tensor:
    """Occlusion of the true class on the deletion grid (captum Occlusion: each (H / G) x (W / G) patch set to 0,
    the drop of the true class's logit as the patch's attribution): (M, G, G)."""
    from captum.attr import Occlusion

    side = x.shape[-1] // grid
    maps = Occlusion(model).attribute(x, target=labels, sliding_window_shapes=(x.shape[1], side, side),
                                      strides=(x.shape[1], side, side), baselines=0.0)
    return maps.sum(dim=1)[:, ::side, ::side].detach()  # every pixel of a patch holds the patch's attribution


def on_grid(maps: torch.Tensor, grid: int) -> torch.Tensor:
    """Saliency maps (M, h, w) resampled to the occlusion grid (M, G, G): area averages when shrinking or equal,
    bilinear when a map is coarser than the grid."""
    mode = "area" if maps.shape[-1] >= grid else "bilinear"
    return F.interpolate(maps[:, None].float(), size=(grid, grid), mode=mode)[:, 0]


def deletion_cuts(patches: int, steps: int) -> np.ndarray:
    """How many patches are occluded at each point of a curve: (S + 1,) from 0 to all, in near-equal groups."""
    return np.rint(np.linspace(0, patches, steps + 1)).astype(np.int64)


def occluded(x: torch.Tensor, orders: np.ndarray, cuts: np.ndarray, grid: int) -> torch.Tensor:
    """Every curve point of every image: (M, 3, H, W) and orders (M, P) -> (M * (S + 1), 3, H, W),
    with the first cuts[k] patches of each image's order set to 0 (the normalised mean colour)."""
    m, patches = orders.shape
    rank = np.empty_like(orders)
    rank[np.arange(m)[:, None], orders] = np.arange(patches)  # rank[i, p]: when patch p of image i goes
    keep = rank[:, None, :] >= cuts[None, :, None]  # (M, S + 1, P)
    mask = torch.as_tensor(keep, dtype=x.dtype, device=x.device).view(m * len(cuts), 1, grid, grid)
    mask = F.interpolate(mask, size=x.shape[-2:], mode="nearest")  # each patch covers (H / G) x (W / G) pixels
    return x.repeat_interleave(len(cuts), dim=0) * mask


@torch.no_grad()
def true_class_probability(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Softmax probability of each image's true class, (len(x),), in fp32 batches."""
    out = [torch.softmax(model(x[i:i + batch_size]).float(), dim=1).gather(1, labels[i:i + batch_size, None])[:, 0]
           for i in range(0, len(x), batch_size)]
    return torch.cat(out)


def deletion_curve(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, orders: np.ndarray, steps: int,
                   grid: int, batch_size: int) -> np.ndarray:
    """True-class probability after each group of occluded patches: (M, S + 1), point 0 the intact image."""
    cuts = deletion_cuts(orders.shape[1], steps)
    probs = true_class_probability(model, occluded(x, orders, cuts, grid), labels.repeat_interleave(len(cuts)),
                                   batch_size)
    return probs.view(len(x), len(cuts)).cpu().numpy()


def random_orders(indices: np.ndarray, patches: int, seed: int, repeat: int) -> np.ndarray:
    """The `repeat`-th random patch order of each image (M, P), seeded by its test index: the same for every model."""
    return np.stack([np.random.default_rng([seed, int(i), repeat]).permutation(patches) for i in indices])


def salient_first(grid_maps: torch.Tensor) -> np.ndarray:
    """Patch orders (M, P), most salient first; a stable sort breaks ties by patch position (reproducible)."""
    return np.argsort(-grid_maps.flatten(1).cpu().numpy(), axis=1, kind="stable")


def compute(model: nn.Module, config: Config, data: ImageData, run: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """Saliency maps and deletion curves of the chosen test images, as stored in explanations.npz, on the model's
    device in fp32 (gradients and probabilities at full precision); None when the model supports no method. Without
    captum the methods that need it are left out and `skipped` says why."""
    method = explanation_method(model)
    if method is None:
        return None
    a = config.analysis
    device = next(model.parameters()).device
    model.float().eval()
    indices = chosen_images(data.test_y.numpy(), len(data.classes), a.explanation_images)
    images = data.test_x[indices]
    labels = data.test_y[indices].to(device)
    x = normalize(images.to(device), config.data.mean, config.data.std)
    patches = a.deletion_grid ** 2
    curve = lambda orders: deletion_curve(model, x, labels, orders, a.deletion_steps, a.deletion_grid,  # noqa: E731
                                          INFERENCE_BATCH).astype(np.float32)
    baseline = np.mean([curve(random_orders(indices, patches, a.seed, r)) for r in range(a.deletion_random_orders)],
                       axis=0)
    with torch.no_grad():
        predictions = model(x).argmax(dim=1).cpu().numpy()
    result = {
        "method": np.array(method), "indices": indices, "labels": labels.cpu().numpy().astype(np.int64),
        "predictions": predictions.astype(np.int64), "images": images.numpy(),
        "fractions": deletion_cuts(patches, a.deletion_steps) / patches, "random_deletion": baseline,
        "random_orders": np.int64(a.deletion_random_orders),
    }
    if not captum_available():
        result["skipped"] = np.array(CAPTUM_MISSING)
    if method == ROLLOUT or captum_available():
        maps = rollout_maps(model, x) if method == ROLLOUT else grad_cam_maps(model, x, labels)
        grid_maps = on_grid(maps, a.deletion_grid)
        result.update(saliency=maps.cpu().numpy().astype(np.float32),
                      grid_saliency=grid_maps.cpu().numpy().astype(np.float32),
                      deletion=curve(salient_first(grid_maps)))
    if captum_available():
        occlusion = occlusion_maps(model, x, labels, a.deletion_grid)
        result.update(occlusion_saliency=occlusion.cpu().numpy().astype(np.float32),
                      occlusion_deletion=curve(salient_first(occlusion)))
    return result


def settings(config: Config, device: str) -> dict[str, Any]:
    """What the explanations depend on beyond the run."""
    a = config.analysis
    return {"images_per_class": a.explanation_images, "grid": a.deletion_grid, "steps": a.deletion_steps,
            "random_orders": a.deletion_random_orders, "seed": a.seed, "captum": captum_available(),
            "methods": "own+occlusion"}

