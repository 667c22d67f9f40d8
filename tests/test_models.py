"""Architectures: parameter counts, shapes, notebook state-dict compatibility, attention, probes."""

import pytest
import torch

from reportgen.config import KNOWN_MODELS, Config
from reportgen.models import FACTORIES, count_parameters, create_model, describe_architecture
from tests import notebook_models

SEED_PARAMETER_COUNTS = {"cnn": 1_353_136, "vit": 1_205_898}  # from the seed notebook
NOTEBOOK_CLASSES = {"cnn": notebook_models.CNN, "vit": notebook_models.ViT}


def test_registry_matches_the_models_the_config_accepts():
    assert set(FACTORIES) == set(KNOWN_MODELS)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_default_parameter_count_is_the_seed_notebooks(name):
    assert count_parameters(create_model(name, Config(), num_classes=10)) == SEED_PARAMETER_COUNTS[name]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_forward_gives_one_logit_per_class(name):
    model = create_model(name, Config(), num_classes=7)
    assert model(torch.randn(5, 3, 32, 32)).shape == (5, 7)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_notebook_state_dict_round_trips_strictly(name):
    torch.manual_seed(0)
    notebook = NOTEBOOK_CLASSES[name]()
    ours = create_model(name, Config(), num_classes=10)
    ours.load_state_dict(notebook.state_dict(), strict=True)
    back = NOTEBOOK_CLASSES[name]()
    back.load_state_dict(ours.state_dict(), strict=True)
    # Same weights, same function: outputs agree in eval mode.
    x = torch.randn(4, 3, 32, 32)
    for m in (notebook, ours, back):
        m.eval()
    torch.testing.assert_close(ours(x), notebook(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(back(x), notebook(x), rtol=1e-4, atol=1e-5)


def test_vit_attention_weights_match_the_notebooks_multihead_attention():
    torch.manual_seed(1)
    notebook = notebook_models.ViT().eval()
    ours = create_model("vit", Config(), num_classes=10).eval()
    ours.load_state_dict(notebook.state_dict())
    x = torch.randn(2, 3, 32, 32)
    tokens = notebook.patch_embed(x)
    for layer in notebook.encoder[:-1]:
        tokens = layer(tokens)
    _, expected = notebook.encoder[-1](tokens, return_attention=True)  # (B, heads, N+1, N+1)
    got = ours.last_layer_attention(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(got.sum(-1), torch.ones_like(got.sum(-1)))


def test_cnn_stage_outputs_follow_the_channel_widths():
    model = create_model("cnn", Config(), num_classes=10).eval()
    shapes = [tuple(f.shape) for f in model.stage_outputs(torch.randn(1, 3, 32, 32))]
    assert shapes == [(1, 32, 32, 32), (1, 64, 16, 16), (1, 128, 8, 8)]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_architecture_table_adds_up_to_the_parameter_count(name):
    model = create_model(name, Config(), num_classes=10)
    rows = describe_architecture(model)
    assert sum(r["parameters"] for r in rows) == count_parameters(model)
    assert all(r["output_shape"] for r in rows)
    assert rows[-1]["output_shape"] == [10]


def test_config_changes_reach_the_architecture():
    config = Config()
    config.vit.depth = 2
    config.cnn.channels = [8, 16]
    assert len(create_model("vit", config, 10).encoder) == 2
    cnn = create_model("cnn", config, 10)
    assert cnn(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert [f.shape[1] for f in cnn.eval().stage_outputs(torch.randn(1, 3, 32, 32))] == [8, 16]


def test_fast_cpu_dropout_keeps_each_element_with_probability_1_minus_p_and_rescales():
    from reportgen.models import Dropout

    dropout = Dropout(0.1)
    x = torch.ones(400, 1000, requires_grad=True)
    torch.manual_seed(0)
    out = dropout(x)
    assert out.unique().tolist() == [0.0, pytest.approx(1 / 0.9)]
    kept = (out != 0).float().mean().item()
    assert abs(kept - 0.9) < 5 * (0.9 * 0.1 / out.numel()) ** 0.5  # within 5 standard errors
    out.sum().backward()
    assert torch.equal(x.grad, out.detach())  # the gradient flows through the kept elements, rescaled
    torch.manual_seed(0)
    assert torch.equal(dropout(x), out)  # torch.manual_seed decides the mask
    assert not torch.equal(dropout(x), out)
    assert torch.equal(dropout.eval()(x), x)


def test_fast_dropout_masks_bf16_like_fp32():
    from reportgen.models import Dropout

    torch.manual_seed(3)
    fp32 = Dropout(0.5)(torch.ones(64, 64))
    torch.manual_seed(3)
    bf16 = Dropout(0.5)(torch.ones(64, 64, dtype=torch.bfloat16))
    assert bf16.dtype == torch.bfloat16 and torch.equal(bf16.float(), fp32)
