"""Deployment files checked without a Docker engine: docker-compose.yml, the Dockerfile, the entrypoint."""

from __future__ import annotations

import ast
import http.server
import os
import re
import shutil
import subprocess
import threading
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from clipret.config import Settings

ROOT = Path(__file__).resolve().parents[1]
CODE = [ROOT / "app.py", *sorted((ROOT / "clipret").rglob("*.py")), *sorted((ROOT / "indexer").rglob("*.py")),
        *sorted((ROOT / "pages").rglob("*.py"))]
SETTINGS_VARS = {"CLIPRET_DATA_DIR", "CLIPRET_PROFILE", "CLIPRET_COLLECTION", "QDRANT_URL", "QDRANT_API_KEY",
                 "CLIPRET_PUBLIC_URL"}
# Set in the image for Python and pip themselves, not for clipret.
INTERPRETER_VARS = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR",
                    "PIP_DISABLE_PIP_VERSION_CHECK"}
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$")


# -- parsing -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [ln for ln in (ROOT / "Dockerfile").read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1].strip() if " " in ln.strip() else "")
            for ln in joined.splitlines() if ln.strip()]


def instructions(dockerfile, name: str) -> list[str]:
    return [args for instr, args in dockerfile if instr == name]


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME-default}, against `environ` (empty: the defaults)."""
    environ = environ or {}

    def sub(m: re.Match) -> str:
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        if op == ":-":
            return environ.get(name) or default
        return environ.get(name, default if op == "-" else "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}", sub, str(value))


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def dockerfile_env(dockerfile) -> dict[str, str]:
    env = {}
    for args in instructions(dockerfile, "ENV"):
        env.update(dict(pair.split("=", 1) for pair in args.split()))
    return env


def _module_constants(tree: ast.Module) -> dict[str, object]:
    """NAME -> value of the module's `NAME = "literal"` assignments (e.g. SLOW_R50_ENV = "CLIPRET_…")."""
    return {t.id: node.value.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for t in node.targets if isinstance(t, ast.Name)}


def _literal(key: ast.AST, constants: dict[str, object]) -> object:
    return key.value if isinstance(key, ast.Constant) else constants.get(getattr(key, "id", None))


def code_env_vars() -> set[str]:
    """Names the sources read from the environment: given to get()/getenv()/environ[...], as a literal or
    a module constant."""
    names = set()
    for path in CODE:
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = _module_constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in {"get", "getenv"}:
                    names.add(_literal(node.args[0], constants))
            elif isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value):
                names.add(_literal(node.slice, constants))
    return {n for n in names if isinstance(n, str) and ENV_NAME.match(n)}


def mounts(service: dict) -> dict[str, str]:
    """target -> source of the service's volumes (short syntax)."""
    out = {}
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


# -- compose -------------------------------------------------------------------------------------------
def test_services(compose):
    assert set(compose["services"]) == {"qdrant", "app", "indexer"}
    assert "profiles" not in compose["services"]["app"]  # a plain `docker compose up` starts the app
    assert compose["services"]["indexer"]["profiles"] == ["indexer"]  # ...and not the one-shot indexer


def test_qdrant_is_pinned_to_the_client_release(compose):
    image = compose["services"]["qdrant"]["image"]
    m = re.fullmatch(r"qdrant/qdrant:v(\d+)\.(\d+)\.(\d+)", image)
    assert m, f"pin an exact qdrant/qdrant release, not {image!r}"
    client_major, client_minor = (int(x) for x in version("qdrant-client").split(".")[:2])
    # qdrant-client's own compatibility rule: same major, minor at most one apart
    assert int(m.group(1)) == client_major and abs(int(m.group(2)) - client_minor) <= 1


def test_volumes_are_named_and_shared(compose):
    declared = set(compose.get("volumes") or {})
    services = compose["services"]
    assert mounts(services["qdrant"])["/qdrant/storage"] in declared
    app_data, indexer_data = mounts(services["app"])["/data"], mounts(services["indexer"])["/data"]
    # the indexer writes the models the app embeds queries with: one volume for both
    assert app_data == indexer_data and app_data in declared


def test_ports(compose):
    services = compose["services"]
    assert "8501:8501" in services["app"]["ports"]
    qdrant_ports = services["qdrant"].get("ports", [])
    assert all(p.startswith("127.0.0.1:") for p in qdrant_ports), "publish Qdrant on loopback only"


def test_app_and_indexer_wait_for_a_healthy_qdrant(compose):
    for name in ("app", "indexer"):
        service = compose["services"][name]
        assert service["depends_on"]["qdrant"]["condition"] == "service_healthy"
        assert service["build"] in (".", {"context": "."})


def test_indexer_builds_the_demo_index(compose):
    command = compose["services"]["indexer"]["command"]
    command = command if isinstance(command, str) else " ".join(command)
    assert "-m indexer build --from demo" in command


def test_qdrant_healthcheck_uses_tools_in_the_image(compose):
    test = compose["services"]["qdrant"]["healthcheck"]["test"]
    text = " ".join(test)
    assert test[0] == "CMD" and "/readyz" in text
    assert "curl" not in text and "wget" not in text  # the qdrant image has neither


def test_every_variable_set_is_one_the_code_reads(compose, dockerfile):
    read = code_env_vars()
    assert SETTINGS_VARS <= read, "the scan of the sources no longer finds Settings.from_env's names"
    for name in ("app", "indexer"):
        unknown = set(env_of(compose["services"][name])) - read
        assert not unknown, f"{name} sets {sorted(unknown)}, which no code reads"
    unknown = set(dockerfile_env(dockerfile)) - read - INTERPRETER_VARS
    assert not unknown, f"the Dockerfile sets {sorted(unknown)}, which no code reads"
    # the Qdrant server reads QDRANT__SECTION__KEY variables
    assert all(k.startswith("QDRANT__") for k in env_of(compose["services"]["qdrant"]))


def test_required_variables_reach_the_settings(compose):
    qdrant = compose["services"]["qdrant"]
    server_key = interpolate(env_of(qdrant)["QDRANT__SERVICE__API_KEY"])
    for name in ("app", "indexer"):
        env = {k: interpolate(v) for k, v in env_of(compose["services"][name]).items()}
        settings = Settings.from_env(env)
        assert settings.qdrant_url == "http://qdrant:6333", f"{name} must talk to the qdrant service"
        assert settings.qdrant_api_key == server_key, f"{name} must send the key the server expects"
        assert str(settings.data_dir) in mounts(compose["services"][name]), "the data dir must be the volume"
        if name == "app":
            assert settings.public_url, "share links need CLIPRET_PUBLIC_URL"


def test_api_key_follows_the_environment(compose):
    environ = {"QDRANT_API_KEY": "s3cret"}
    server = interpolate(env_of(compose["services"]["qdrant"])["QDRANT__SERVICE__API_KEY"], environ)
    app = interpolate(env_of(compose["services"]["app"])["QDRANT_API_KEY"], environ)
    assert server == app == "s3cret"


def test_compose_config_validates():
    cli = ([shutil.which("docker-compose")] if shutil.which("docker-compose")
           else [shutil.which("docker"), "compose"] if shutil.which("docker") else None)
    if cli is None or subprocess.run([*cli, "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker compose on this machine: the YAML checks above still ran")
    done = subprocess.run([*cli, "--profile", "indexer", "config", "-q"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- Dockerfile -----------------------------------------------------------------------------------------
def test_dockerfile_base_user_port_volume(dockerfile):
    assert instructions(dockerfile, "FROM")[0] == "python:3.11-slim"
    user = instructions(dockerfile, "USER")[-1]
    assert user not in {"root", "0", "0:0"}
    assert any("useradd" in run and user in run for run in instructions(dockerfile, "RUN"))
    assert "8501" in instructions(dockerfile, "EXPOSE")[0].split()
    assert dockerfile_env(dockerfile)["CLIPRET_DATA_DIR"] == "/data"
    assert "/data" in instructions(dockerfile, "VOLUME")[0]


def test_dockerfile_installs_cpu_torch_matching_requirements(dockerfile):
    pins = dict(re.findall(r"^(torch|torchvision)==(\S+)", (ROOT / "requirements.txt").read_text(), re.M))
    torch_runs = [r for r in instructions(dockerfile, "RUN") if "download.pytorch.org/whl/cpu" in r]
    assert torch_runs, "install torch from PyTorch's CPU index"
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_runs[0]
    for package, pinned in pins.items():
        assert f"{package}=={pinned}" in torch_runs[0]
    # requirements.txt afterwards, without its torch lines (else pip could fetch the CUDA build)
    req_runs = [r for r in instructions(dockerfile, "RUN") if "pip install -r" in r]
    assert req_runs and "grep -vE '^(torch|torchvision)=='" in req_runs[0]


def test_dockerfile_installs_the_project_after_its_sources(dockerfile):
    """The image has the `clipret` command: the project is pip-installed (its dependencies are in already)
    after the source COPY, as root (before USER)."""
    steps = [(instr, args) for instr, args in dockerfile if instr in {"COPY", "RUN", "USER"}]
    source_copy = next(i for i, (instr, args) in enumerate(steps) if instr == "COPY" and args.endswith(". /app"))
    install = [i for i, (instr, args) in enumerate(steps)
               if instr == "RUN" and re.search(r"pip install --no-deps (/app|\.)(\s|$)", args)]
    assert install and install[0] > source_copy, "pip install --no-deps the project after COPY . /app"
    user = next(i for i, (instr, _) in enumerate(steps) if instr == "USER")
    assert install[0] < user


def test_dockerfile_healthcheck_and_entrypoint(dockerfile):
    health = instructions(dockerfile, "HEALTHCHECK")[0]
    assert "http://localhost:8501/_stcore/health" in health
    entry = instructions(dockerfile, "ENTRYPOINT")[0]
    assert "/app/docker/entrypoint.sh" in entry
    assert os.access(ROOT / "docker" / "entrypoint.sh", os.X_OK)
    subprocess.run(["sh", "-n", str(ROOT / "docker" / "entrypoint.sh")], check=True)


def test_dockerignore_keeps_local_state_out():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "data", "artifacts", ".env"} <= ignored


# -- the entrypoint and healthchecks, run here with stand-ins --------------------------------------------
@pytest.fixture
def fake_python(tmp_path):
    """A `python` on PATH that logs its arguments and fails for `-m indexer` when told to."""
    log = tmp_path / "calls.log"
    script = tmp_path / "bin" / "python"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$*" >> {log}\n'
                      f'[ "$2" = indexer ] && [ -n "${{FAIL_INDEXER:-}}" ] && exit 3\nexit 0\n')
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{script.parent}{os.pathsep}{os.environ['PATH']}"}
    return env, log


def run_entrypoint(env, *args):
    return subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=20)


def test_entrypoint_builds_demo_then_serves(fake_python):
    env, log = fake_python
    assert run_entrypoint(env).returncode == 0
    first, second = log.read_text().splitlines()
    assert first == "-m indexer ensure-demo"
    assert second.startswith("-m streamlit run app.py") and "--server.port=8501" in second
    assert "--server.address=0.0.0.0" in second


def test_entrypoint_stops_when_the_demo_build_fails(fake_python):
    env, log = fake_python
    assert run_entrypoint({**env, "FAIL_INDEXER": "1"}).returncode == 3
    assert log.read_text().splitlines() == ["-m indexer ensure-demo"]  # streamlit never started


def test_entrypoint_runs_a_given_command_only(fake_python):
    env, log = fake_python
    assert run_entrypoint(env, "python", "-m", "indexer", "build", "--from", "demo").returncode == 0
    assert log.read_text().splitlines() == ["-m indexer build --from demo"]


@pytest.fixture
def http_status():
    """A loopback HTTP server answering every GET with the status in `state['status']`."""
    state = {"status": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(state["status"])
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_qdrant_healthcheck_command_reads_the_status(compose, http_status):
    if shutil.which("bash") is None:
        pytest.skip("no bash here to run the qdrant healthcheck with")
    state, port = http_status
    test = [a.replace("6333", str(port)) for a in compose["services"]["qdrant"]["healthcheck"]["test"][1:]]
    assert subprocess.run(test, timeout=10).returncode == 0
    state["status"] = 503
    assert subprocess.run(test, timeout=10).returncode != 0


def test_app_healthcheck_command_reads_the_status(dockerfile, http_status):
    import json
    import sys

    state, port = http_status
    health = instructions(dockerfile, "HEALTHCHECK")[0]
    command = json.loads(health[health.index("CMD") + 3:].strip())
    command = [sys.executable if a == "python" else a.replace("8501", str(port)) for a in command]
    assert subprocess.run(command, timeout=10).returncode == 0
    state["status"] = 503
    assert subprocess.run(command, timeout=10, capture_output=True).returncode != 0
