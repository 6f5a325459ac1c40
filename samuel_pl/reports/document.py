"""A report as a list of blocks, rendered to Markdown (files beside it) and to one HTML page
(images embedded as data URIs; audio embedded too, or linked relative to ``root``)."""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path

MIME = {".png": "image/png", ".svg": "image/svg+xml", ".wav": "audio/wav", ".mp3": "audio/mpeg"}


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    path: Path
    alt: str


@dataclass
class Audio:
    path: Path
    label: str


Block = Heading | Para | Bullets | Table | Image | Audio


def _md_cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def to_markdown(blocks: list[Block], root: Path) -> str:
    """Markdown with images and audio linked relative to ``root`` (the report folder)."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}\n")
        elif isinstance(b, Para):
            out.append(b.text + "\n")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items) + "\n")
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |"]
            lines.append("|" + "---|" * len(b.header))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines) + "\n")
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({os.path.relpath(b.path, root)})\n")
        elif isinstance(b, Audio):
            out.append(f"[{b.label}]({os.path.relpath(b.path, root)})\n")
    return "\n".join(out)


def data_uri(path: Path) -> str:
    """``data:<mime>;base64,...`` of a file (refuses an empty or missing file)."""
    raw = path.read_bytes()
    if not raw:
        raise ValueError(f"{path}: empty file cannot be embedded in the report")
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3} img{max-width:100%} figure{margin:1em 0}
code{background:#f3f3f3;padding:0 .2em} .audio{display:flex;gap:1em;align-items:center}
"""


def _inline(text: str) -> str:
    """Escape, then render `code` spans."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def to_html(blocks: list[Block], title: str, root: Path | None = None) -> str:
    """One HTML document with every image embedded; audio embedded too (self-contained), or,
    with ``root`` (the folder the page is written to), ``<audio>`` players that link the clips
    relative to it (a page with many long clips stays small)."""
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            items = "".join(f"<li>{_inline(i)}</li>" for i in b.items)
            body.append(f"<ul>{items}</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in b.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Image):
            alt = html.escape(b.alt, quote=True)
            body.append(f'<figure><img src="{data_uri(b.path)}" alt="{alt}"></figure>')
        elif isinstance(b, Audio):
            label = _inline(b.label)
            src = data_uri(b.path) if root is None else html.escape(os.path.relpath(b.path, root))
            body.append(
                f'<div class="audio"><span>{label}</span><audio controls src="{src}"></audio></div>'
            )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
