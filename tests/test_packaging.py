"""pyproject.toml and environment.yml pin the same packages."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(specs):
    return {s.split("==")[0].lower(): s.split("==")[1] for s in specs if "==" in s}


def test_environment_yml_lists_the_pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pyproject = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == pyproject
    assert pyproject["torch"] == "2.14.1" and pyproject["torchvision"] == "0.29.1"
