"""LaTeX in bibliographic text (``M{\\"u}ller``, ``Pav\\'{e}l``, ``{{BERT}}``, ``$\\beta$-VAE``) as Unicode.

pylatexenc (the library bibtexparser itself uses for this) does the conversion; text with no backslash,
brace, dollar, tilde or TeX quotes (most of a metadata snapshot) is returned as it is, without parsing.
pylatexenc builds its table of known macros for every string it is given unless it is handed one, so the
table is built once; and the same names come back thousands of times in a snapshot (``M\\"uller``), so
recent conversions are remembered. pylatexenc reads character by character (milliseconds for an abstract),
so a long text is cut at its top-level spaces (outside braces and math) and only the runs of words that hold
LaTeX are converted; the plain words between them are kept as they are.
"""
from __future__ import annotations

import functools
import re

_LATEX_CHARS = re.compile(r"[\\{}$~]|``|''")


@functools.lru_cache(maxsize=1)
def _converter():
    from pylatexenc.latex2text import LatexNodes2Text
    from pylatexenc.latexwalker import get_default_latex_context_db

    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False), get_default_latex_context_db()


def latex_to_text(text: str) -> str:
    """``text`` with its LaTeX accents, commands and braces turned into Unicode; one line."""
    if not _LATEX_CHARS.search(text):
        return " ".join(text.split())
    words = _top_level_words(text) if len(text) > 30 else None
    if words is None:
        return _converted(text)
    out: list[str] = []
    run: list[str] = []  # consecutive words with LaTeX in them: converted together
    for word in words:
        if _LATEX_CHARS.search(word) or (run and _BARE_MACRO.search(run[-1])):
            run.append(word)
            continue
        if run:
            out.append(_converted(" ".join(run)))
            run = []
        out.append(word)
    if run:
        out.append(_converted(" ".join(run)))
    return " ".join(" ".join(out).split())


_BARE_MACRO = re.compile(r"\\(?:[A-Za-z]+|.)$")  # a macro that may take the next word as its argument


_STRUCTURE = re.compile(r"\\.|[{}$]|\s+", re.DOTALL)  # what can change the nesting, or end a word


def _top_level_words(text: str) -> list[str] | None:
    """``text`` cut at the spaces outside braces and math; None when its braces or dollars do not balance."""
    words: list[str] = []
    start = depth = 0
    math = False
    for m in _STRUCTURE.finditer(text):
        ch = m.group()
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "$":
            math = not math
        elif ch[0].isspace() and depth == 0 and not math:
            if m.start() > start:
                words.append(text[start:m.start()])
            start = m.end()
    if depth or math:
        return None
    if start < len(text):
        words.append(text[start:])
    return words


@functools.lru_cache(maxsize=65536)
def _converted(text: str) -> str:
    from pylatexenc.latexwalker import LatexWalker

    to_text, context = _converter()
    try:
        out = to_text.nodelist_to_text(LatexWalker(text, latex_context=context).get_latex_nodes()[0])
    except Exception:  # noqa: BLE001 - pylatexenc raises its own errors on unbalanced input; keep the text
        out = text.replace("{", "").replace("}", "")
    return " ".join(out.replace("~", " ").split())
