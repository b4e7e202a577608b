"""Where a result recorded through :mod:`findings` comes from: the caller's code, its identity, the machine.

This is the researcher's code, not the engine's (:mod:`engine.code_identity` identifies that). What is
recorded on the run node:

* ``code``: what ran — the calling script (``__main__``'s file) with its path and SHA-256; in a notebook
  the notebook file when Jupyter names it (``JPY_SESSION_NAME``), read for the record only; in a REPL or
  ``python -c`` no file, and ``kind`` says so. Files or folders passed as ``code=`` (a module the script
  imports) are hashed beside it. For ``findings import-results`` the results file takes the script's place.
* ``code_version``: the code identity, a SHA-256 over the script's bytes, the extra files' bytes and the
  installed versions of :data:`LIBRARIES`; None where no file identifies the code (a notebook, a REPL).
  Paths are not part of it: the same script elsewhere is the same code.
* ``git_commit``, ``git_dirty``, ``git_root``: the git checkout that holds the script (the notebook, the
  results file; without a file, the working directory), read when the run starts; for people to read,
  never compared.
* ``packages`` (:data:`LIBRARIES` where installed), ``host``, ``pid``, ``python``, ``cwd``.

The run's key (:func:`run_key`, stored as ``config_hash`` as for engine runs, so ``findings runs --hash``
finds it) hashes the configuration, the protocol, the seeds and the code identity.

Standard library only, at import and after: ``import findings`` stays cheap.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# what a researcher's interpretability code computes with, and this package
LIBRARIES = ("torch", "numpy", "transformers", "pyvene", "nnsight", "findings-explorer")


@dataclass(frozen=True)
class Code:
    """The code a run's results come from (see the module docstring)."""

    kind: str  # "script", "notebook", "interactive", "no script file", "results file"
    path: str | None = None
    sha256: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # extra code: path -> SHA-256
    libraries: dict[str, str] = field(default_factory=dict)
    identified: bool = True  # whether ``sha256`` identifies what ran (False for a notebook file)

    @property
    def digest(self) -> str | None:
        """The code identity; None when nothing identifies the code that ran."""
        if self.sha256 is None or not self.identified:
            return None
        payload = {"main": self.sha256, "files": sorted(self.files.values()), "libraries": self.libraries}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "sha256": self.sha256, "files": dict(self.files),
                "libraries": dict(self.libraries), "identity": self.digest}


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _code_files(paths: Iterable[str | Path]) -> dict[str, str]:
    """SHA-256 of each file, and of each ``*.py`` file under each folder, by absolute path."""
    out: dict[str, str] = {}
    for given in paths:
        p = Path(given).expanduser().resolve()
        if p.is_file():
            out[str(p)] = sha256_file(p)
        elif p.is_dir():
            for f in sorted(p.rglob("*.py")):
                if "__pycache__" not in f.parts and f.is_file():
                    out[str(f)] = sha256_file(f)
        else:
            raise ValueError(f"code: no such file or folder: {given}")
    return out


def library_versions() -> dict[str, str]:
    from engine.code_identity import installed_versions  # standard library only

    return installed_versions(LIBRARIES)


def _notebook_file() -> Path | None:
    """The notebook a Jupyter kernel runs, where the front end says (JupyterLab/Notebook ≥ 7, VS Code)."""
    main = sys.modules.get("__main__")
    for name in (os.environ.get("JPY_SESSION_NAME"), getattr(main, "__vsc_ipynb_file__", None)):
        if name and Path(name).is_file():
            return Path(name).resolve()
    return None


def caller_code(extra: Iterable[str | Path] = ()) -> Code:
    """The code that is calling: ``__main__``'s file, or what kind of session has none; plus ``extra``."""
    libraries, files = library_versions(), _code_files(extra)
    if "ipykernel" in sys.modules:
        nb = _notebook_file()
        # cells can be edited and run without saving: the file is a record, not an identity
        return Code("notebook", str(nb) if nb else None, sha256_file(nb) if nb else None, files, libraries,
                    identified=False)
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and Path(main_file).is_file():
        path = Path(main_file).resolve()
        return Code("script", str(path), sha256_file(path), files, libraries)
    kind = "interactive" if hasattr(sys, "ps1") or sys.flags.interactive else "no script file"
    return Code(kind, None, None, files, libraries)


def file_code(path: Path) -> Code:
    """A results file as the code identity of what ``findings import-results`` records from it."""
    path = path.resolve()
    return Code("results file", str(path), sha256_file(path), {}, {})


def git_root(start: Path) -> Path | None:
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return None


def provenance(code: Code, protocol: str | None, seeds: list[int] | None) -> dict[str, Any]:
    """The attributes a run of the caller's code stores beside its config (see the module docstring)."""
    from engine.code_identity import read_git_state

    where = Path(code.path).parent if code.path else Path.cwd()
    root = git_root(where.resolve())
    git = read_git_state(root) if root else {"git_commit": None, "git_dirty": None}
    return {"protocol": protocol, "seeds": seeds, "code": code.to_json(), "code_version": code.digest,
            **git, "git_root": str(root) if root else None, "packages": library_versions(),
            "host": socket.gethostname(), "pid": os.getpid(), "python": platform.python_version(),
            "cwd": os.getcwd()}


def run_key(config: dict[str, Any], protocol: str | None, seeds: list[int] | None, code: Code) -> str:
    """The key the run is stored and looked up under (``config_hash``)."""
    from graph.runs import config_hash

    return config_hash({"config": config, "protocol": protocol, "seeds": seeds, "code": code.digest})
