"""Puts a table the pipeline wrote into a docs page, between two marker lines.

    python tools/embed_generated.py docs/reproduction.md au-ablation \\
        results/au_ablation/tables/ablation.md

replaces everything between ``<!-- generated: au-ablation -->`` and ``<!-- end generated:
au-ablation -->`` in the page by the file's text, so a number in the docs is the pipeline's,
never retyped. Fails, changing nothing, when the markers are missing or the file is empty.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("name")
    parser.add_argument("generated", type=Path)
    args = parser.parse_args()
    text = args.generated.read_text()
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
