"""What ``pip install .`` puts in site-packages: every data file the library reads at run time.

The tests import the source tree, so a data file missing from the package would pass them and fail for
every user; this test reads the packaging rules instead."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = {".py", ".pyc"}


def test_every_data_file_of_the_packages_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    rules = config.get("package-data", {})
    missing = []
    for top in config["packages"]["find"]["include"]:
        for path in (ROOT / top.rstrip("*")).rglob("*"):
            if not path.is_file() or path.suffix in CODE or "__pycache__" in path.parts:
                continue
            package = ".".join(path.parent.relative_to(ROOT).parts)
            if not any(fnmatch.fnmatch(path.name, pattern) for pattern in rules.get(package, [])):
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"add to [tool.setuptools.package-data]: {missing}"


def test_the_kernels_install_inside_the_ciminus_namespace():
    """``kernels/`` is installed as ``ciminus.kernels`` (``ciminus/kernels`` links to it): never a top-level
    ``kernels`` package in site-packages, where another project's module of that name would collide."""
    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = find_packages(where=str(ROOT), include=config["packages"]["find"]["include"])
    assert "ciminus.kernels" in packages
    assert not [p for p in packages if p.split(".")[0] != "ciminus"], packages
    assert (ROOT / "ciminus" / "kernels").resolve() == (ROOT / "kernels").resolve()
    import ciminus.kernels.price as price

    assert Path(price.__file__).parent.parent.name == "ciminus"
