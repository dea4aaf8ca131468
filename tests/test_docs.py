"""The README stays true: the commands CI runs (docs/settings.md: test_hub_definition.py)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    first_screen = README.split("---", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", first_screen)
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == "bash scripts/test.sh"


def test_the_fast_tier_command_selects_every_test_but_the_end_to_end_ones() -> None:
    """The README's fast tier, as written, with ``--collect-only``: its options work."""
    (command,) = re.findall(r"^(bash scripts/test.sh -m .+?)\s+#", README, flags=re.MULTILINE)
    completed = subprocess.run(
        [*shlex.split(command), "--collect-only", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    collected = re.search(r"(\d+)/(\d+) tests collected \((\d+) deselected\)", completed.stdout)
    assert collected, completed.stdout[-2000:]
    selected, total, deselected = (int(group) for group in collected.groups())
    assert selected > 300
    assert deselected >= 5
    assert selected + deselected == total


def github_anchor(title: str) -> str:
    """The ``#anchor`` GitHub gives a heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def test_the_readme_renders_every_heading_as_a_heading_and_every_anchor_exists() -> None:
    """A fence closed on a line with text after it swallows the sections that follow."""
    tokens = MarkdownIt("commonmark").parse(README)
    rendered = [
        tokens[i + 1].content for i, token in enumerate(tokens) if token.type == "heading_open"
    ]
    in_fence, written = False, []
    for line in README.splitlines():
        if line.startswith("```"):
            assert re.fullmatch(r"```\w*", line), f"a fence line with text after it: {line!r}"
            in_fence = not in_fence
        elif not in_fence and re.match(r"^#{1,6} ", line):
            written.append(line.lstrip("#").strip())
    assert rendered == written
    anchors = {github_anchor(title) for title in rendered}
    links = {
        token.attrGet("href")
        for block in tokens
        for token in block.children or []
        if token.type == "link_open"
    }
    missing = sorted(
        str(link) for link in links if str(link).startswith("#") and str(link)[1:] not in anchors
    )
    assert missing == []
    assert any(str(link).startswith("#") for link in links)
    fences = [token for token in tokens if token.type == "fence"]
    assert all("\n## " not in "\n" + token.content for token in fences)
