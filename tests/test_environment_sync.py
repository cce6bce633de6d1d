"""environment.yml (conda users) lists the same packages and versions as pyproject.toml, and
the lock files `make` installs (requirements/*.txt, `make lock`) satisfy pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: Requirement) -> str:
    """The PEP 503 normalized project name (case, '-', '_' and '.' folded)."""
    return re.sub(r"[-_.]+", "-", requirement.name).lower()


def _by_name(lines: list[str]) -> dict[str, SpecifierSet]:
    requirements = [Requirement(line) for line in lines]
    by_name = {_name(r): r.specifier for r in requirements}
    assert len(by_name) == len(requirements), f"a package is listed twice in {lines}"
    return by_name


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _environment() -> dict:
    with open(ROOT / "environment.yml") as f:
        return yaml.safe_load(f)


def _pip_section(environment: dict) -> list[str]:
    sections = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert len(sections) == 1, "environment.yml needs exactly one pip section"
    return [line for line in sections[0] if not line.startswith("-")]


def test_pip_section_matches_pyproject_dependencies_and_test_extra():
    project = _pyproject()
    expected = _by_name(project["dependencies"] + project["optional-dependencies"]["test"])
    assert _by_name(_pip_section(_environment())) == expected


def test_conda_python_matches_requires_python():
    environment = _environment()
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pythons = [Requirement(d) for d in conda if Requirement(d).name == "python"]
    assert len(pythons) == 1, conda
    assert pythons[0].specifier == SpecifierSet(_pyproject()["requires-python"])
    assert "pip" in conda
    assert environment["channels"] == ["conda-forge"]


def _pins(path: Path) -> dict[str, Version]:
    """The ``name==version`` lines of a lock file, by normalized name."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"{path.name}: {line} is not pinned"
            pins[_name(requirement)] = Version(specifier.version)
    return pins


def _assert_locked(pins: dict[str, Version], requirements: list[str], lock: str) -> None:
    for line in requirements:
        requirement = Requirement(line)
        assert _name(requirement) in pins, f"{lock} misses {line}: run make lock"
        pinned = pins[_name(requirement)]
        assert pinned in requirement.specifier, f"{lock} pins {pinned}, outside {line}"


def test_lock_pins_every_dependency_and_the_test_extra_within_the_ranges():
    project = _pyproject()
    lock = _pins(ROOT / "requirements" / "lock.txt")
    _assert_locked(lock, project["dependencies"] + project["optional-dependencies"]["test"], "lock")
    # the runtime extra of the cluster is not in every user's environment
    for line in project["optional-dependencies"]["slurm"]:
        assert _name(Requirement(line)) not in lock


def test_slurm_lock_is_the_lock_plus_the_slurm_extra():
    project = _pyproject()
    lock = _pins(ROOT / "requirements" / "lock.txt")
    slurm = _pins(ROOT / "requirements" / "lock-slurm.txt")
    _assert_locked(slurm, project["optional-dependencies"]["slurm"], "lock-slurm")
    assert {name: slurm[name] for name in lock} == lock
    extra = {_name(Requirement(line)) for line in project["optional-dependencies"]["slurm"]}
    assert extra <= set(slurm) - set(lock)
