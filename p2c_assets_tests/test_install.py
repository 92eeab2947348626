"""A production install: the p2c_assets wheel alone, in a fresh venv, outside the repository.

A deployment installs p2c_assets without the sandbox (sandbox/ is a package of its own): the sandbox's
server, token endpoint and fake data, and what only they need (starlette, uvicorn, odata-query, pyjwt,
faker), must not come with it, and nothing in p2c_assets may need them. The code location loads, `p2c`
works, and `p2c demo` says how to get the sandbox. The sandbox's wheel then brings its own command.
uv builds the wheels and the venvs (seconds, from its cache); every version is the lock's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: modules a production install must not have: the sandbox, its server stack, and the Dagster UI (an
#: extra, `p2c_assets[webserver]`, for a host that serves it; it would bring starlette and uvicorn too)
NOT_IN_PRODUCTION = ["p2c_sandbox", "starlette", "uvicorn", "odata_query", "faker", "jwt", "dagster_webserver"]


def _uv(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "uv", *args], check=True, capture_output=True, text=True)


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A command of the venv, as a deployment runs it: from elsewhere than the repository (so that
    nothing is imported from the working tree) and without this test session's variables."""
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(cwd)}
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    _uv("build", "--wheel", "--out-dir", str(out), str(REPO))
    _uv("build", "--wheel", "--out-dir", str(out), str(REPO / "sandbox"))
    return {name: next(out.glob(f"{name}-*.whl")) for name in ("p2c_assets", "p2c_sandbox")}


def _venv(root: Path, *wheels: Path) -> Path:
    venv = root / "venv"
    _uv("venv", "--quiet", "--python", sys.executable, str(venv))
    _uv("pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
        "--constraint", str(REPO / "requirements.lock"), *map(str, wheels))
    _uv("pip", "check", "--quiet", "--python", str(venv / "bin" / "python"))
    return venv


@pytest.fixture(scope="module")
def production(tmp_path_factory, wheels) -> Path:
    return _venv(tmp_path_factory.mktemp("production"), wheels["p2c_assets"])


def test_production_install_has_no_sandbox(production, tmp_path):
    found = _run(production, "python", "-c", "import importlib.util, json, sys; print(json.dumps("
                 "{m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))",
                 *NOT_IN_PRODUCTION, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert [m for m, present in json.loads(found.stdout).items() if present] == []
    assert not (production / "bin" / "p2c-sandbox").exists()


def test_production_install_loads_the_code_location(production, tmp_path):
    imported = _run(production, "python", "-c", "import p2c_assets, p2c_assets.definitions; "
                    "print(p2c_assets.__file__)", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(production)
    # what `dagster code-server start -m p2c_assets.definitions` (deploy/Dockerfile) loads
    validated = _run(production, "dagster", "definitions", "validate", "-m", "p2c_assets.definitions",
                     cwd=tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_production_cli_works_and_demo_asks_for_the_sandbox(production, tmp_path):
    helped = _run(production, "p2c", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert all(command in helped.stdout for command in ("check", "run", "preview", "problems", "demo"))

    demo = _run(production, "p2c", "demo", cwd=tmp_path)
    assert demo.returncode == 1
    assert "Traceback" not in demo.stderr
    assert "the demo runs the sandbox, which is not installed" in demo.stderr
    assert "make demo" in demo.stderr and "pip install -e ./sandbox" in demo.stderr
    assert not (tmp_path / ".dagster_home").exists()  # it stopped before setting anything up


def test_sandbox_wheel_brings_the_sandbox_and_its_command(wheels, tmp_path):
    venv = _venv(tmp_path, wheels["p2c_assets"], wheels["p2c_sandbox"])
    helped = _run(venv, "p2c-sandbox", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert all(command in helped.stdout for command in ("serve", "seed", "simulate", "faults"))
    served = _run(venv, "python", "-c", "import p2c_sandbox.server", cwd=tmp_path)
    assert served.returncode == 0, served.stderr
