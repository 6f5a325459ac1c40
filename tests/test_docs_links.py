"""Every relative link in README.md and docs/**/*.md points to a file in the repository.

A link (or image) target is resolved against the folder of the file that holds it; it must exist
and stay inside the repository. A ``#heading`` anchor into a Markdown file must name one of its
headings (GitHub's slugs). Links inside code blocks and code spans are not links. Web links
(``https://...``) are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def doc_files(root: Path) -> list[Path]:
    """README.md and every Markdown file under docs/, sorted."""
    return [p for p in [root / "README.md"] if p.is_file()] + sorted(root.glob("docs/**/*.md"))


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link or image outside code."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            found += [(number, m.group(1)) for m in LINK.finditer(CODE_SPAN.sub("", line))]
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading text: lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (repeats get -1, -2, ...)."""
    seen: dict[str, int] = {}
    out, fenced = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m and not fenced:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def broken_links(root: Path) -> list[str]:
    """One 'file:line: target: problem' line per link that does not resolve."""
    root = root.resolve()
    problems = []
    for doc in doc_files(root):
        for number, target in links(doc.read_text(encoding="utf-8")):
            where = f"{doc.relative_to(root)}:{number}: {target}"
            if SCHEME.match(target):
                continue  # a web link
            path_part, _, anchor = target.partition("#")
            dest = (doc.parent / path_part).resolve() if path_part else doc
            if path_part.startswith("/") or not dest.is_relative_to(root):
                problems.append(f"{where}: points outside the repository")
            elif not dest.exists():
                problems.append(f"{where}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: no heading with anchor #{anchor} in {dest.name}")
    return problems


def test_every_relative_link_in_readme_and_docs_resolves() -> None:
    assert doc_files(ROOT)[0].name == "README.md" and len(doc_files(ROOT)) > 5
    problems = broken_links(ROOT)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 350, f"README.md has {len(lines)} lines; move detail into docs/"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mod.py").write_text("x = 1\n")
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Sweeps and reports\n\n## Notes\n")
    return tmp_path


def test_checker_accepts_good_links(tree: Path) -> None:
    (tree / "README.md").write_text(
        "[guide](docs/guide.md) [code](src/mod.py) ![pic](src/) [web](https://example.org/x)\n"
        "[anchor](docs/guide.md#sweeps-and-reports) [here](#top)\n\n# Top\n"
        "```\n[not a link](missing.md)\n```\n`[span](missing.md)`\n"
    )
    (tree / "docs" / "back.md").write_text("# Back\n[readme](../README.md#top)\n")
    assert broken_links(tree) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[gone](docs/missing.md)", "README.md:1: docs/missing.md: no such file"),
        ("![img](docs/pic.png)", "README.md:1: docs/pic.png: no such file"),
        ("[spec](../shared/SPEC.md)", "README.md:1: ../shared/SPEC.md: points outside"),
        ("[abs](/etc/passwd)", "README.md:1: /etc/passwd: points outside"),
        ("[a](docs/guide.md#sweeps)", "no heading with anchor #sweeps in guide.md"),
        ("[a](#nowhere)", "no heading with anchor #nowhere in README.md"),
    ],
)
def test_checker_reports_a_broken_link(tree: Path, text: str, problem: str) -> None:
    (tree / "README.md").write_text(text + "\n")
    (found,) = broken_links(tree)
    assert problem in found


def test_checker_reads_docs_subfolders(tree: Path) -> None:
    (tree / "docs" / "sub").mkdir()
    (tree / "docs" / "sub" / "deep.md").write_text("# Deep\n\nsee [guide](guide.md)\n")
    assert broken_links(tree) == ["docs/sub/deep.md:3: guide.md: no such file"]


def test_slug_matches_github() -> None:
    assert slug("Sweeps and reports") == "sweeps-and-reports"
    assert slug("The 5-minute `make fit` model") == "the-5-minute-make-fit-model"
    assert slug("Why a small ASGI app and not Gradio") == "why-a-small-asgi-app-and-not-gradio"
    assert slug("Scaling out, and containers!") == "scaling-out-and-containers"
