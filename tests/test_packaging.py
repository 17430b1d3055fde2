"""The distribution as a user gets it: a wheel built from this tree, installed into a fresh virtual
environment, run from a folder outside the checkout.

The fresh environment sees the test environment's packages (the dependencies, never reinstalled) through
a folder of symbolic links to them, named in a .pth file; the links leave out clipret's own install there
(the editable finder, its .pth, the dist-info), so what imports is the wheel's copy and nothing of the
checkout. The wheel is built from a copy of the tree: pip builds in place, and setuptools would leave
build/ and clipret.egg-info in the checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
# the sub-commands of clipret/cli.py's parser
COMMANDS = ("demo-corpus", "download", "from-folder", "extract", "train", "push", "build", "ensure-demo",
            "evaluate", "add", "search", "info")
# left out of the copy the wheel is built from: local state, only at the top of the tree
NOT_COPIED = {".git", ".venv", "venv", "data", "artifacts", "media", "build", "dist", "tmp", ".whl", ".gl",
              ".gpu-wheels", ".pytest_cache", ".ruff_cache"}
# in the test environment's site-packages, what belongs to clipret's own (editable) install: not linked
OWN_INSTALL = re.compile(r"^(clipret([-.].*)?|__editable__.*|.*\.pth|.*\.egg-link|__pycache__)$")
MEDIA = (".mp4", ".webm", ".mkv", ".mov", ".wav", ".ogg", ".mp3", ".flac", ".m4a", ".npz", ".npy", ".pt",
         ".safetensors", ".png", ".jpg", ".jpeg", ".gif", ".lrc")
DEMO = ("--per-genre", "2", "--seconds", "3", "--epochs", "5", "--workers", "2")  # 9 genres × 2 clips × 3 s


def _ignore_local_state(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {n for n in names if (top and (n in NOT_COPIED or n.endswith(".egg-info")))
            or n == "__pycache__" or n.endswith(".pyc")}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the tree (sources, tests, bench, docs; no local state) to build the wheel from."""
    copy = tmp_path_factory.mktemp("packaging") / "src"
    shutil.copytree(ROOT, copy, ignore=_ignore_local_state)
    return copy


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """The folder the installed command runs in: outside the checkout."""
    path = tmp_path_factory.mktemp("outside")
    assert ROOT not in path.parents
    return path


@pytest.fixture(scope="module")
def clean_env(work) -> dict[str, str]:
    """The environment with nothing that would point Python or clipret at the checkout or its data; the
    numba cache in a temporary folder (the fresh environment compiles its own, which stays out of ~/.cache)."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "VIRTUAL_ENV",
                        "NUMBA_CACHE_DIR"} and not k.startswith(("CLIPRET_", "QDRANT_"))}
    env["CLIPRET_CACHE_DIR"] = str(work / "cache")
    return env


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory, clean_env, work) -> Path:
    """A fresh virtual environment with the wheel installed (--no-deps) and the dependencies seen through
    links; its clipret is checked to be the wheel's."""
    base = tmp_path_factory.mktemp("venv")
    env_dir, view = base / "env", base / "deps"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    view.mkdir()
    for site in dict.fromkeys(Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")):
        for entry in site.iterdir():
            if not OWN_INSTALL.match(entry.name) and not (view / entry.name).exists():
                (view / entry.name).symlink_to(entry)
    python = env_dir / "bin" / "python"
    site_packages = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                              env=clean_env, cwd=work).stdout.strip())
    assert env_dir in site_packages.parents
    (site_packages / "_clipret_test_deps.pth").write_text(f"{view}\n")
    # pip, like every dependency, comes through the links; it installs into the running environment
    _run(python, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q", str(wheel),
         env=clean_env, cwd=work)
    return env_dir


def _run(*command, env, cwd, timeout=120) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in command], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, command))}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done


def _clipret(venv, *args, env, cwd, timeout=120) -> subprocess.CompletedProcess:
    return _run(venv / "bin" / "clipret", *args, env={**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"},
                cwd=cwd, timeout=timeout)


# -- the wheel --------------------------------------------------------------------------------------------
def test_wheel_holds_the_package_and_nothing_else(wheel, source):
    assert wheel.name == f"clipret-{VERSION}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = f"clipret-{VERSION}.dist-info"
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"clipret", dist_info}, f"the wheel's top level: {sorted(tops)}"
    for left_out in ("tests", "bench", "docs", "pages", "app.py", "indexer", "docker", "data", "artifacts"):
        assert not any(n == left_out or n.startswith(left_out + "/") for n in names), left_out
    assert not [n for n in names if n.lower().endswith(MEDIA)], "media or weights in the wheel"
    # every module of clipret/, subpackages included (the app's clipret/ui too), and only modules
    package = {n for n in names if n.startswith("clipret/")}
    modules = {p.relative_to(source).as_posix() for p in (source / "clipret").rglob("*.py")}
    assert package == modules, (f"missing: {sorted(modules - package)}; "
                                f"not a module of the tree: {sorted(package - modules)}")
    assert {"clipret/ui/__init__.py", "clipret/cli.py", "clipret/sources/demo/__init__.py"} <= package


def test_wheel_metadata_names_the_command_and_the_dependencies(wheel):
    with zipfile.ZipFile(wheel) as zf:
        entry_points = zf.read(f"clipret-{VERSION}.dist-info/entry_points.txt").decode()
        metadata = zf.read(f"clipret-{VERSION}.dist-info/METADATA").decode()
    assert re.search(r"^\[console_scripts\]\s*\nclipret = clipret\.cli:run$", entry_points, re.M)
    assert "Requires-Python: >=3.11" in metadata
    requires = {re.split(r"[<>=!~; \[]", line.split(":", 1)[1].strip())[0].lower()
                for line in metadata.splitlines() if line.startswith("Requires-Dist:")}
    assert {"torch", "streamlit", "qdrant-edge-py", "librosa", "av"} <= requires


# -- installed from the wheel -----------------------------------------------------------------------------
def test_installed_clipret_is_the_wheels_copy(venv, clean_env, work):
    script = """
import importlib.metadata as md, json, sys
from packaging.requirements import Requirement
import clipret
unmet = []
for line in md.requires("clipret"):
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    try:
        have = md.version(req.name)
    except md.PackageNotFoundError:
        unmet.append(f"{line} (absent)")
        continue
    if not req.specifier.contains(have, prereleases=True):
        unmet.append(f"{line} (have {have})")
print(json.dumps({"file": clipret.__file__, "version": clipret.__version__,
                  "dist": str(md.distribution("clipret").locate_file("")), "unmet": unmet,
                  "editable_finders": [m for m in sys.modules if m.startswith("__editable__")]}))
"""
    found = json.loads(_run(venv / "bin" / "python", "-c", script, env=clean_env, cwd=work).stdout)
    assert venv in Path(found["file"]).parents, f"clipret imported from {found['file']}, not the wheel's copy"
    assert ROOT not in Path(found["file"]).resolve().parents
    assert venv in Path(found["dist"]).parents and not found["editable_finders"]
    assert found["version"] == VERSION
    assert not found["unmet"], f"the test environment does not meet the wheel's requirements: {found['unmet']}"


def test_installed_command_lists_its_commands(venv, clean_env, work):
    from clipret.cli import build_parser

    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert set(subcommands) == set(COMMANDS), "COMMANDS no longer matches clipret/cli.py"
    for command in ([venv / "bin" / "clipret"], [venv / "bin" / "python", "-m", "clipret"]):
        help_text = _run(*command, "--help", env=clean_env, cwd=work).stdout
        assert help_text.startswith("usage: clipret")
        listed = set(re.findall(r"^ {4}([a-z][a-z-]+)(?: |$)", help_text, re.M))
        assert listed == set(COMMANDS), help_text
    assert "--per-genre" in _clipret(venv, "build", "--help", env=clean_env, cwd=work).stdout


@pytest.mark.slow
def test_installed_command_builds_and_describes_a_demo_index(venv, clean_env, work):
    data = work / "data"
    built = _clipret(venv, "--data-dir", data, "--quiet", "build", "--from", "demo", *DEMO, env=clean_env,
                     cwd=work, timeout=300)
    assert "18 of 18 clips indexed" in built.stdout, built.stdout
    info = json.loads(_clipret(venv, "--data-dir", data, "info", "--json", env=clean_env, cwd=work).stdout)
    assert info["alias"] == "clips" and info["n_clips"] == 18 and info["profile"] == "portable"
    assert len(info["genres"]) == 9 and set(info["genres"].values()) == {2}
    assert info["training"]["epochs"] == 5
    assert (data / "models" / info["collection"] / "manifest.json").is_file()
    text = _clipret(venv, "--data-dir", data, "info", env=clean_env, cwd=work).stdout
    assert text.startswith(f"alias clips → {info['collection']}  (18 clips)")
    assert (work / "cache" / "numba").is_dir(), "librosa's numba cache went elsewhere than CLIPRET_CACHE_DIR"
