"""The identity of the code that turns a configuration into a recorded finding: a hash of its content.

A run is recognised as already recorded when its configuration *and* this identity match a finished run,
so the identity must change whenever the computation can change, and only then. It hashes:

* every Python source file (``*.py``, recursively, ``__pycache__`` left out) of the packages that sit
  between a config and a finding — :data:`PACKAGES`: ``engine`` (tasks, models, training, metrics, the
  protocol), ``graph`` (results → findings, replication verdicts) and ``db`` (how they are stored) — each
  file by its path relative to the package root (``engine/metrics.py``) and its bytes. ``app`` (the CLI
  only builds a config, which is recorded whole), ``seeds`` and the tests are not part of it;
* the versions of the numeric libraries the engine computes with (:data:`LIBRARIES`, those installed).

Relative paths make the identity independent of where the code lives: a checkout, a copy elsewhere and an
installed wheel (whose files are exactly these ``*.py`` files, see ``pyproject.toml``) give the same one.
Untracked files count like any other; git is not consulted. The git commit and a dirty flag are recorded
beside the identity (:func:`git_state`) for people to read, never to compare.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PACKAGES = ("engine", "graph", "db")
LIBRARIES = ("torch", "numpy", "scipy", "pot", "geomloss", "transformers", "safetensors")
# the directory that holds the packages: the checkout root, or site-packages for an installed wheel
CODE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CodeIdentity:
    digest: str  # 32 hex digits of SHA-256 over the files and library versions
    files: int  # how many source files were hashed
    libraries: dict[str, str] = field(default_factory=dict)


def source_files(root: Path) -> list[Path]:
    """The hashed files under ``root``, as paths relative to it, in a fixed order."""
    out = []
    for package in PACKAGES:
        base = root / package
        if not base.is_dir():
            raise ValueError(f"{root} holds no {package}/ package: not a findings-explorer code root")
        out += [p.relative_to(root) for p in base.rglob("*.py") if "__pycache__" not in p.parts and p.is_file()]
    return sorted(out, key=lambda p: p.as_posix())


def installed_versions(names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of the distributions ``names`` (absent ones are left out)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def library_versions() -> dict[str, str]:
    """Installed versions of :data:`LIBRARIES`."""
    return installed_versions(LIBRARIES)


def code_identity(root: Path | str = CODE_ROOT, libraries: dict[str, str] | None = None) -> CodeIdentity:
    """Hash the source files under ``root`` (see the module docstring) and the library versions
    (``libraries``, default: those installed)."""
    root = Path(root)
    libraries = library_versions() if libraries is None else dict(libraries)
    h = hashlib.sha256()
    files = source_files(root)
    for rel in files:
        data = (root / rel).read_bytes()
        # length-prefixed fields: no two different trees can produce the same byte stream
        for part in (rel.as_posix().encode(), data):
            h.update(len(part).to_bytes(8, "big"))
            h.update(part)
    h.update(json.dumps(libraries, sort_keys=True).encode())
    return CodeIdentity(h.hexdigest()[:32], len(files), libraries)


@lru_cache(maxsize=1)
def code_version() -> str:
    """This process's code identity (computed once: the modules it imported do not change under it)."""
    return code_identity().digest


@lru_cache(maxsize=4)
def git_state(root: Path | str = CODE_ROOT) -> dict[str, object]:
    """``{"git_commit": sha | None, "git_dirty": bool | None}`` of a git checkout at ``root``, read once per
    process; for display."""
    return read_git_state(root)


def read_git_state(root: Path | str) -> dict[str, object]:
    """:func:`git_state` read now, not cached: a long-lived process (a notebook's kernel) sees its edits."""
    root = Path(root)
    if not (root / ".git").exists():  # an installed wheel, even one in a virtualenv inside some checkout
        return {"git_commit": None, "git_dirty": None}
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5,
                              check=False)
        if head.returncode != 0:
            return {"git_commit": None, "git_dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, timeout=5, check=False)
        return {"git_commit": head.stdout.strip(), "git_dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
