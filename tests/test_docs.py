"""The docs against the code: the config reference is generated from the config models."""

from __future__ import annotations

from pathlib import Path

from rebalance.config import reference

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_generated_from_the_model():
    written = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")

    assert written == reference.render(), (
        "docs/config.md differs from the config models' descriptions: run `make docs` "
        "(python -m rebalance.config.reference) and commit docs/config.md"
    )


def test_every_config_key_has_a_description():
    assert reference.undescribed() == []


def test_reference_lists_every_key_with_its_default_and_escapes_pipes():
    rendered = reference.render()
    keys = [line.split(" | ")[0] for line in rendered.splitlines() if line.startswith("| `")]

    assert "| `split.seed` | int, ≥ 0 | `42` |" in rendered
    assert "| `validation.null_policy` | `fail` \\| `drop` | `fail` |" in rendered
    assert "| `rebalance.pivots` | list of str, length ≥ 1 | `[de]` |" in rendered
    assert "| `name` | str, length ≤ 100 | required |" in rendered
    # A key every modality shares is listed once; one that differs, once per modality.
    assert keys.count("| `split.seed`") == 1
    assert keys.count("| `source`") == 3
