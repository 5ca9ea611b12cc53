"""Security audit: no unsafe deserialisation or remote code in the product, no writes outside
the output root from names in configs, tables or manifests."""

import ast
import json
from pathlib import Path

import pytest

from rebalance.config import parse_config
from rebalance.errors import ConfigError, DataError
from tasks.run.training import check_outputs

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("rebalance", "tasks", "flows", "validations")

# Calls that run code from a file or a model repository: module (as imported) and function.
FORBIDDEN_CALLS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("dill", "load"),
    ("dill", "loads"),
    ("joblib", "load"),
    ("torch", "load"),
    ("marshal", "loads"),
    ("shelve", "open"),
    ("pandas", "read_pickle"),
    ("pd", "read_pickle"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
}
# Keyword arguments that must never be true.
FORBIDDEN_TRUE_KEYWORDS = {"trust_remote_code", "allow_pickle"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader"}


def _product_files() -> list[Path]:
    return sorted(path for folder in PRODUCT for path in (ROOT / folder).rglob("*.py"))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _loads_weights(name: str) -> bool:
    # MarianMTModel.from_pretrained, AutoModelForSeq2SeqLM.from_pretrained...; not tokenizers.
    owner, _, method = name.rpartition(".")
    return method == "from_pretrained" and "Model" in owner.rsplit(".", 1)[-1]


def audit(source: str, /, *, filename: str = "<source>") -> list[str]:
    """Every unsafe call in `source`, as `file:line: what`."""
    found = []
    tree = ast.parse(source, filename=filename)
    imported: dict[str, str] = {}  # local name -> "module.function" for `from x import y`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        name = imported.get(name, name)
        parts = tuple(name.rsplit(".", 1)) if "." in name else ("", name)
        where = f"{filename}:{node.lineno}"
        if (parts[0].rsplit(".", 1)[-1], parts[1]) in FORBIDDEN_CALLS:
            found.append(f"{where}: {name}()")
        if parts == ("yaml", "load"):
            loader = next((k.value for k in node.keywords if k.arg == "Loader"), None)
            if loader is None and len(node.args) > 1:
                loader = node.args[1]
            if loader is None or _dotted(loader).rsplit(".", 1)[-1] not in SAFE_YAML_LOADERS:
                found.append(f"{where}: yaml.load() without SafeLoader")
        for keyword in node.keywords:
            if keyword.arg in FORBIDDEN_TRUE_KEYWORDS and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{where}: {keyword.arg}={ast.unparse(keyword.value)}")
        if _loads_weights(name) and not any(
            k.arg == "use_safetensors" and isinstance(k.value, ast.Constant) and k.value.value
            for k in node.keywords
        ):
            found.append(f"{where}: {name}() without use_safetensors=True")
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import pickle\npickle.load(f)\n", "pickle.load()"),
        ("from pickle import loads\nloads(b)\n", "pickle.loads()"),
        ("import joblib\njoblib.load('m.joblib')\n", "joblib.load()"),
        ("import torch\ntorch.load('w.pt')\n", "torch.load()"),
        ("import numpy as np\nnp.load('a.npy', allow_pickle=True)\n", "allow_pickle=True"),
        ("M.from_pretrained('x', use_safetensors=True, trust_remote_code=True)\n", "trust_remote"),
        ("M.from_pretrained('x', use_safetensors=True, trust_remote_code=flag)\n", "=flag"),
        ("import yaml\nyaml.load(text)\n", "without SafeLoader"),
        ("import yaml\nyaml.load(text, Loader=yaml.Loader)\n", "without SafeLoader"),
        ("import yaml\nyaml.unsafe_load(text)\n", "yaml.unsafe_load()"),
        ("MarianMTModel.from_pretrained('x')\n", "without use_safetensors=True"),
    ],
)
def test_the_audit_finds_each_unsafe_call(source, expected):
    found = audit(source)

    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "source",
    [
        "import yaml\nyaml.safe_load(text)\n",
        "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)\n",
        "import numpy as np\nnp.load('a.npy', allow_pickle=False)\n",
        "M.from_pretrained('x', use_safetensors=True, trust_remote_code=False)\n",
        "MarianTokenizer.from_pretrained('x')\n",
        "json.load(f)\n",
    ],
)
def test_the_audit_lets_safe_calls_pass(source):
    assert audit(source) == []


def test_the_product_has_no_unsafe_deserialisation_or_remote_code():
    files = _product_files()
    found = [
        problem
        for path in files
        for problem in audit(path.read_text(encoding="utf-8"), filename=str(path.relative_to(ROOT)))
    ]

    assert len(files) > 20  # the folders were found
    assert found == []


def test_models_load_with_safetensors_and_without_remote_code():
    source = (ROOT / "tasks" / "text" / "translators.py").read_text(encoding="utf-8")

    assert "use_safetensors=True" in source
    assert "trust_remote_code=False" in source


@pytest.mark.parametrize("name", ["../../etc", "a/b", "..", ".", ".hidden", "a\\b", "x\n", ""])
def test_a_dataset_name_that_is_not_one_plain_folder_is_refused(name):
    raw = {"name": name, "source": "x.csv", "label": "y", "output": "/tmp/out"}

    with pytest.raises(ConfigError) as caught:
        parse_config(raw)

    assert "'name'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_plain_name_stays_under_the_output_root(tmp_path):
    config = parse_config({"name": "loans-v2.1", "source": "x.csv", "label": "y", "output": "/o"})

    assert config.dataset_dir == Path("/o/loans-v2.1")


@pytest.mark.parametrize("listed", ["../outside.txt", "/etc/hostname", "sub/../../outside.txt"])
def test_a_manifest_listing_files_outside_its_run_folder_is_refused(tmp_path, listed):
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "outside.txt").write_text("secret")

    with pytest.raises(DataError, match=r"outside the run folder; it was edited by hand"):
        check_outputs(run, {"files": {listed: "0" * 64}})


def test_the_manifest_check_still_reads_files_inside_the_run(tmp_path):
    import polars as pl

    for split in ("train", "val", "test"):
        pl.DataFrame({"y": ["a", "b"]}).write_parquet(tmp_path / f"{split}.parquet")
    from tasks.core.files import file_sha256

    files = {f"{s}.parquet": file_sha256(tmp_path / f"{s}.parquet") for s in ("train", "val")}
    manifest = json.loads(json.dumps({"files": files, "columns": {"label": "y"}}))

    checked = check_outputs(tmp_path, manifest)

    assert checked["files_checked"] == 2
    assert checked["splits"]["test"]["classes"] == {"a": 1, "b": 1}
