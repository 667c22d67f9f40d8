"""plain_data: YAML without aliases or duplicate keys; JSON without duplicate keys or non-finite constants."""

import pytest
import yaml

from reportgen.plain_data import load_json, load_yaml

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9))


def test_plain_yaml_reads_as_safe_load_does():
    text = "train: {lr: 0.001, seeds: [1, 2]}\nmodels: [cnn]\n"
    assert load_yaml(text) == yaml.safe_load(text)


def test_nested_aliases_are_refused_before_they_expand():
    with pytest.raises(yaml.YAMLError, match="line 2 uses a YAML alias"):
        load_yaml(BILLION_LAUGHS)


@pytest.mark.parametrize("text", ["a: 1\na: 2\n", "x:\n  y: 1\n  y: 2\n"])
def test_a_key_given_twice_is_refused(text):
    with pytest.raises(yaml.YAMLError, match="twice in one mapping"):
        load_yaml(text)


def test_json_with_a_duplicated_key_is_refused():
    assert load_json('{"a": {"b": 1}, "c": [1]}') == {"a": {"b": 1}, "c": [1]}
    with pytest.raises(ValueError, match="'a' appears twice"):
        load_json('{"a": 1, "b": 2, "a": 3}')


@pytest.mark.parametrize("text", ['{"a": NaN}', "[Infinity]", "[-Infinity]"])
def test_json_non_finite_constants_are_refused(text):
    with pytest.raises(ValueError, match="not a finite number"):
        load_json(text)


def test_json_integers_longer_than_any_count_are_refused():
    assert load_json("[12345678901234567890, -3]") == [12345678901234567890, -3]
    with pytest.raises(ValueError, match="an integer of 4,001 digits"):
        load_json("[" + "9" * 4001 + "]")
