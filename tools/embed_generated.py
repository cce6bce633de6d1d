"""Puts a table the pipeline wrote into a docs page, between two marker lines.

    python tools/embed_generated.py docs/reproduction.md au-ablation \\
        results/au_ablation/tables/ablation.md

replaces everything between ``<!-- generated: au-ablation -->`` and ``<!-- end generated:
au-ablation -->`` in the page by the file's text, so a number in the docs is the pipeline's,
never retyped. Fails, changing nothing, when the markers are missing or the file is empty.

    python tools/embed_generated.py README.md reproduction-excerpt \
        results/reproduce/tables/reproduction.md --rows '^burda2016-' --drop-columns source

embeds an excerpt instead: the file's first Markdown table, only its rows whose first cell
matches ``--rows`` and without the ``--drop-columns`` (its caption left out).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def embed(page: str, name: str, text: str) -> str:
    """``page`` with the block named ``name`` replaced by ``text``.

    Raises:
        ValueError: If the page lacks either marker of ``name``.
    """
    start, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(page):
        raise ValueError(f"the page has no block {start} ... {end}")
    return pattern.sub(lambda _: f"{start}\n{text.rstrip()}\n{end}", page, count=1)


def table_excerpt(text: str, rows: str, drop_columns: list[str]) -> str:
    """The first Markdown table of ``text``, with the body rows whose first cell matches the
    regular expression ``rows`` and without the columns named in ``drop_columns``.

    Raises:
        ValueError: If ``text`` has no table, a dropped column is not in it, or no row
            matches.
    """
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        raise ValueError("no Markdown table in the file")
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    table = [[c.strip() for c in row.strip().strip("|").split("|")] for row in lines[start:end]]
    header, body = table[0], table[2:]
    missing = sorted(set(drop_columns) - set(header))
    if missing:
        raise ValueError(f"no column {missing} in the table; columns: {header}")
    keep = [i for i, name in enumerate(header) if name not in drop_columns]
    matched = [row for row in body if re.search(rows, row[0])]
    if not matched:
        raise ValueError(f"no row's first cell matches {rows!r}")

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells[i] for i in keep) + " |"

    return "\n".join([line(header), "|" + "|".join(":--" for _ in keep) + "|", *map(line, matched)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("name")
    parser.add_argument("generated", type=Path)
    parser.add_argument("--rows", help="embed only the table rows whose first cell matches")
    parser.add_argument("--drop-columns", default="", help="comma-separated columns to leave out")
    args = parser.parse_args()
    text = args.generated.read_text()
    if args.rows is not None:
        drop = [name for name in args.drop_columns.split(",") if name]
        try:
            text = table_excerpt(text, args.rows, drop)
        except ValueError as error:
            print(f"{args.generated}: {error}; {args.page} left as it was", file=sys.stderr)
            return 1
    if not text.strip():
        print(f"{args.generated} is empty; {args.page} left as it was", file=sys.stderr)
        return 1
    try:
        args.page.write_text(embed(args.page.read_text(), args.name, text))
    except ValueError as error:
        print(f"{args.page}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
