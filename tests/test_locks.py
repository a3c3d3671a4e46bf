"""The lock files: they cover pyproject.toml, agree with each other, keep torch on the CPU build,
and are what this test run is running with."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(name: str) -> dict[str, str]:
    found = {}
    for line in (REPO / name).read_text(encoding="utf-8").splitlines():
        if line and not line.startswith((" ", "#", "-")):
            package, sep, version = line.partition("==")
            assert sep, f"{name}: {line!r} is not pinned with =="
            found[canonical(package)] = version.strip()
    return found


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_every_requirement_of_pyproject_is_pinned_within_its_range():
    app, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    for lock, requirements in (
        (app, project()["dependencies"]),
        (dev, project()["dependencies"] + project()["optional-dependencies"]["dev"]),
    ):
        for text in requirements:
            requirement = Requirement(text)
            name = canonical(requirement.name)
            assert name in lock, f"{name} is not in the lock: run make lock"
            assert requirement.specifier.contains(Version(lock[name]), prereleases=True), (
                f"{name}=={lock[name]} does not satisfy {requirement}: run make lock"
            )


def test_the_app_lock_and_the_dev_lock_agree():
    app, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in app} == app


def test_torch_is_the_cpu_build_and_nothing_from_cuda():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        locked = pins(lock)
        assert locked["torch"] == "2.13.0+cpu"
        assert not [name for name in locked if name.startswith(("nvidia-", "triton", "cuda"))]


def test_this_environment_runs_exactly_the_dev_lock():
    """What the tests run with is what the lock says (make install installs it)."""
    installed = {
        canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }
    wrong = {
        name: (version, installed.get(name))
        for name, version in pins("requirements-dev.lock").items()
        if installed.get(name) != version
    }
    assert not wrong, f"locked vs installed (run make install): {wrong}"
