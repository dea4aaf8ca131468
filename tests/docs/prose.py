"""The pages a user reads (README.md and docs/*.md), parsed as markdown renders them.

The docs checks read commands and facts from the page that tells them, so a command moved to
another page is followed, and a command that stops being true fails where a user reads it.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parent.parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def pages() -> list[Path]:
    """Every page a user reads: the README, CONTRIBUTING and docs/, in that order."""
    return [README, ROOT / "CONTRIBUTING.md", *sorted(DOCS.glob("*.md"))]


def tokens(page: Path) -> list[Token]:
    return MarkdownIt("commonmark").parse(page.read_text())


def bash_blocks(*on: Path) -> list[str]:
    """Every ```bash block of the pages given, in the order a reader meets them."""
    return [
        token.content
        for page in on
        for token in tokens(page)
        if token.type == "fence" and token.info.strip() == "bash"
    ]


def github_anchor(title: str) -> str:
    """The ``#anchor`` GitHub gives a heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def headings(page: Path) -> list[str]:
    """The text of every heading markdown renders on the page."""
    found = tokens(page)
    return [found[i + 1].content for i, token in enumerate(found) if token.type == "heading_open"]


def links(page: Path) -> set[str]:
    """Every link target of the page (inline links, in paragraphs, lists and tables)."""
    return {
        str(token.attrGet("href"))
        for block in tokens(page)
        for token in block.children or []
        if token.type == "link_open"
    }
