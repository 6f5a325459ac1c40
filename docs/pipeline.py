"""Draw docs/pipeline.svg, the README's picture of the pipeline (plain SVG, no dependencies).

    python docs/pipeline.py [--out docs/pipeline.svg]

Two rows: training (stems -> codec -> latent cache -> fit -> checkpoint) and generation
(vocal -> codec -> sampler with the U-Net denoiser -> decoder -> accompaniment and mix).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from xml.sax.saxutils import escape

from samuel_pl.files import write_text

BOX_W, BOX_H, GAP = 172, 62, 34
ROW_Y = {"train": 60, "generate": 220}
COLOURS = {"data": "#e8f1fb", "codec": "#fdf1dc", "model": "#e6f5e6", "out": "#f3e8f8"}

# (row, column, kind, title, detail line)
BOXES = [
    ("train", 0, "data", "paired stems", "demo, MUSDB, folder, CSV"),
    ("train", 1, "codec", "codec encode", "log-mel, VAE, Stable Audio"),
    ("train", 2, "data", "latent cache", "z-scored, versioned"),
    ("train", 3, "model", "fit (LitSamuel)", "v-loss, CFG dropout, EMA"),
    ("train", 4, "out", "checkpoint", "weights, EMA, config"),
    ("generate", 0, "data", "vocal file", "any rate, length"),
    ("generate", 1, "codec", "codec encode", "vocal latent c"),
    ("generate", 2, "model", "sampler", "DPM++ 10 steps, CFG"),
    ("generate", 3, "codec", "decode", "vocoder / Griffin-Lim"),
    ("generate", 4, "out", "accompaniment", "+ mix with the vocal"),
]


def _x(col: int) -> int:
    return 20 + col * (BOX_W + GAP)


def _box(row: str, col: int, kind: str, title: str, detail: str) -> str:
    x, y = _x(col), ROW_Y[row]
    cx = x + BOX_W // 2
    return (
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
        f'fill="{COLOURS[kind]}" stroke="#555"/>'
        f'<text x="{cx}" y="{y + 26}" class="t">{escape(title)}</text>'
        f'<text x="{cx}" y="{y + 46}" class="d">{escape(detail)}</text>'
    )


def _arrow(x1: float, y1: float, x2: float, y2: float, dashed: bool = False) -> str:
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    return (
        f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#333" stroke-width="1.6"'
        f'{dash} marker-end="url(#a)"/>'
    )


def svg() -> str:
    """The whole figure as an SVG document string."""
    width = _x(5) - GAP + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="330" '
        f'viewBox="0 0 {width} 330" font-family="DejaVu Sans, Arial, sans-serif">',
        '<defs><marker id="a" markerWidth="10" markerHeight="8" refX="9" refY="4" '
        'orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker></defs>',
        "<style>.t{font-size:14px;font-weight:bold;text-anchor:middle}"
        ".d{font-size:11px;text-anchor:middle;fill:#333}"
        ".h{font-size:13px;font-style:italic;fill:#555}</style>",
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="20" y="45" class="h">training: python -m samuel_pl.fit</text>',
        '<text x="20" y="205" class="h">generation: python -m samuel_pl.generate / serve</text>',
    ]
    parts += [_box(*b) for b in BOXES]
    for y in ROW_Y.values():
        for col in range(4):
            parts.append(_arrow(_x(col) + BOX_W, y + BOX_H / 2, _x(col + 1) - 2, y + BOX_H / 2))
    # the checkpoint feeds the sampler (the U-Net denoiser with its EMA weights)
    ck_x, ck_y = _x(4) + BOX_W / 2, ROW_Y["train"] + BOX_H
    sa_x, sa_y = _x(2) + BOX_W / 2, ROW_Y["generate"]
    parts.append(
        f'<path d="M{ck_x},{ck_y} L{ck_x},{ck_y + 30} L{sa_x},{ck_y + 30} L{sa_x},{sa_y - 2}" '
        'fill="none" stroke="#333" stroke-width="1.6" stroke-dasharray="5,4" '
        'marker-end="url(#a)"/>'
    )
    parts.append(
        f'<text x="{(ck_x + sa_x) / 2}" y="{ck_y + 24}" class="d">'
        "U-Net denoiser with soft alignment attention (EMA weights)</text>"
    )
    parts.append(
        f'<text x="{sa_x}" y="{sa_y + BOX_H + 24}" class="d">'
        "noise x_T -> x_0 in the codec's latent space, conditioned on c</text>"
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).with_name("pipeline.svg"))
    args = p.parse_args(argv)
    write_text(args.out, svg())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
