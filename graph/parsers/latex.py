"""LaTeX in bibliographic text (``M{\\"u}ller``, ``Pav\\'{e}l``, ``{{BERT}}``, ``$\\beta$-VAE``) as Unicode.

pylatexenc (the library bibtexparser itself uses for this) does the conversion; text with no backslash,
brace, dollar, tilde or TeX quotes (most of a metadata snapshot) is returned as it is, without parsing.
"""
from __future__ import annotations

import functools
import re

_LATEX_CHARS = re.compile(r"[\\{}$~]|``|''")


@functools.lru_cache(maxsize=1)
def _converter():
    from pylatexenc.latex2text import LatexNodes2Text

    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


def latex_to_text(text: str) -> str:
    """``text`` with its LaTeX accents, commands and braces turned into Unicode; one line."""
    if not _LATEX_CHARS.search(text):
        return " ".join(text.split())
    try:
        out = _converter().latex_to_text(text)
    except Exception:  # noqa: BLE001 - pylatexenc raises its own errors on unbalanced input; keep the text
        out = text.replace("{", "").replace("}", "")
    return " ".join(out.replace("~", " ").split())
