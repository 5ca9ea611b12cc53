"""Translation models: local paths must exist, and no model may need its own code."""

import json
import shutil
from pathlib import Path

import pytest

from rebalance.config import load_config
from rebalance.errors import ConfigError
from tasks.text.modality import TextModality
from tasks.text.rebalance import rebalance_texts
from tasks.text.translators import Decoding, Runtime, check_local_model, load_marian
from tests.text_helpers import COLUMNS, text_config, train_frame

DECODING = Decoding(max_new_tokens=8, num_beams=1, do_sample=False, top_p=1.0, temperature=1.0)


def _config_file(tmp_path: Path, model: str, **rebalance) -> Path:
    path = tmp_path / "conf" / "tickets.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"  {key}: {value}\n" for key, value in rebalance.items())
    path.write_text(
        f"name: t\nmodality: text\nsource: t.jsonl\nlabel: y\nrebalance:\n  model: {model}\n{extra}"
    )
    return path


def _fake_model(folder: Path, **config) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_relative_model_folder_resolves_against_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(_config_file(tmp_path, "./models/opus-mt-{src}-{tgt}"))

    assert config.rebalance.model == str(tmp_path / "conf" / "models" / "opus-mt-{src}-{tgt}")


def test_a_hub_name_is_left_as_it_is(tmp_path):
    config = load_config(_config_file(tmp_path, "Helsinki-NLP/opus-mt-{src}-{tgt}"))

    assert config.rebalance.model == "Helsinki-NLP/opus-mt-{src}-{tgt}"
    check_local_model("Helsinki-NLP/opus-mt-en-de")  # a hub name: nothing local to check


def test_a_missing_model_folder_fails_the_config_check_before_any_data_is_read(tmp_path):
    # t.jsonl does not exist either: the model is named first, in check-config.
    config = load_config(_config_file(tmp_path, "./models/opus-mt-{src}-{tgt}", fallback="eda"))

    with pytest.raises(ConfigError) as caught:
        TextModality().check_config(config)

    message = str(caught.value)
    assert message.startswith("rebalance.model: local model folder ")
    assert str(tmp_path / "conf" / "models" / "opus-mt-en-de") + " does not exist" in message
    assert "save a MarianMT model there (save_pretrained)" in message


def test_a_model_folder_without_config_json_is_named(tmp_path):
    (tmp_path / "opus-mt-en-de").mkdir()

    with pytest.raises(ConfigError, match=r"opus-mt-en-de has no config.json; save a MarianMT"):
        check_local_model(str(tmp_path / "opus-mt-en-de"))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"model_type": "marian", "auto_map": {"AutoModel": "modeling_evil.EvilModel"}},
            r"needs its own Python code \(config.json has auto_map\), which rebalance never "
            r"runs \(no trust_remote_code\)",
        ),
        ({"model_type": "evil-arch"}, r"is a 'evil-arch' model, not MarianMT"),
        ({"model_type": "bert"}, r"is a 'bert' model, not MarianMT"),
        ({}, r"is a 'untyped' model, not MarianMT"),
    ],
    ids=["auto_map", "unknown model_type", "other model_type", "no model_type"],
)
def test_a_model_that_needs_its_own_code_or_is_not_marian_is_refused(tmp_path, config, expected):
    folder = _fake_model(tmp_path / "opus-mt-en-de", **config)

    with pytest.raises(ConfigError, match=expected):
        check_local_model(str(folder))


def test_a_real_marian_folder_with_auto_map_is_refused_unloaded_even_with_a_fallback(
    marian_template, tmp_path
):
    # Valid weights and tokenizer; only config.json asks for remote code.
    for direction in ("en-de", "de-en"):
        source = Path(marian_template.format(src=direction[:2], tgt=direction[3:]))
        shutil.copytree(source, tmp_path / "m" / f"opus-mt-{direction}")
    config_json = tmp_path / "m" / "opus-mt-en-de" / "config.json"
    raw = json.loads(config_json.read_text())
    raw["auto_map"] = {"AutoModelForSeq2SeqLM": "modeling_custom.Custom"}
    config_json.write_text(json.dumps(raw))
    (config_json.parent / "modeling_custom.py").write_text("raise SystemExit('ran remote code')\n")
    template = str(tmp_path / "m" / "opus-mt-{src}-{tgt}")

    with pytest.raises(ConfigError, match="needs its own Python code"):
        load_marian(
            template.format(src="en", tgt="de"),
            revision=None,
            local_files_only=True,
            decoding=DECODING,
            runtime=Runtime(num_threads=1),
        )
    with pytest.raises(ConfigError, match="needs its own Python code"):
        rebalance_texts(
            train_frame(6, {"refund": 3}),
            columns=COLUMNS,
            config=text_config(tmp_path, model=template, fallback="eda"),
        )


def test_the_tiny_test_models_are_safetensors_only(marian_template):
    folder = Path(marian_template.format(src="en", tgt="de"))

    names = {path.name for path in folder.iterdir()}

    assert "model.safetensors" in names
    assert not names & {"pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"}
