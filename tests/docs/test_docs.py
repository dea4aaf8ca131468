"""The pages a user reads stay true: the README's first screen, its size, the settings it
names, the commands CI runs, and every heading and link of README.md, CONTRIBUTING.md and docs/.
Fast (no venv but .venv, no server): they run with every tier."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tap_webex_meetings.settings import CONFIG_SCHEMA
from tests.docs.prose import README, ROOT, bash_blocks, github_anchor, headings, links, pages

README_TEXT = README.read_text()
FIRST_SCREEN = README_TEXT.split("\n---\n", 1)[0]
# A page another branch writes, linked before it lands. Once the file exists, delete it from
# here (the test below says so).
PENDING: set[Path] = set()


def test_the_readme_is_a_page_a_user_reads() -> None:
    """About 12 KB: what it extracts, install and configure, try it; the rest is in docs/."""
    assert len(README_TEXT.encode()) <= 12_000
    titles = headings(README)
    assert titles[:4] == [
        "tap-webex-meetings",
        "What it extracts",
        "Use it in your Meltano project",
        "Try it, run the tests",
    ]


def test_the_first_screen_adds_it_to_meltano_then_tries_it_then_tests_it() -> None:
    commands = re.findall(r"```bash\n(.+?)\n```", FIRST_SCREEN)
    assert commands[0].startswith("meltano add --plugin-type extractor tap-webex-meetings ")
    assert commands[1:] == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == "bash scripts/test.sh"


def test_the_settings_the_readme_names_are_settings() -> None:
    """The Configure section names settings by their `name`; none is renamed or gone."""
    section = README_TEXT.split("\n## Configure\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z]+(?:_[a-z]+)+)`", section))
    assert len(named) >= 6
    assert named <= set(CONFIG_SCHEMA["properties"])


def test_the_fast_tier_command_selects_every_test_but_the_end_to_end_ones() -> None:
    """CONTRIBUTING's fast tier, as written, collected by this venv's pytest: what
    ``scripts/test.sh`` would run, without building Meltano's and Airflow's venvs first."""
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    (command,) = re.findall(r"^bash scripts/test.sh (-m .+?)\s+#", contributing, re.MULTILINE)
    test_sh = (ROOT / "scripts" / "test.sh").read_text().rstrip().splitlines()
    assert test_sh[-1] == '.venv/bin/pytest "$@"'  # its arguments reach pytest as they are
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *shlex.split(command), "--collect-only", "-q"],
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


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_heading_renders_and_every_link_leads_somewhere(page: Path) -> None:
    """A fence closed on a line with text after it swallows the sections that follow; a link
    to a page or an anchor that moved leads nowhere."""
    rendered = headings(page)
    in_fence, written = False, []
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            assert re.fullmatch(r"```\w*", line), f"a fence line with text after it: {line!r}"
            in_fence = not in_fence
        elif not in_fence and re.match(r"^#{1,6} ", line):
            written.append(line.lstrip("#").strip())
    assert rendered == written
    missing = []
    for link in sorted(links(page)):
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if target in PENDING:
            continue
        if target.suffix != ".md":
            anchor = ""  # a link into code, not to a heading
        anchors = {github_anchor(title) for title in headings(target)} if target.exists() else set()
        if not target.exists() or (anchor and anchor not in anchors):
            missing.append(link)
    assert missing == []
    assert "\n## " not in "\n".join("\n" + block for block in bash_blocks(page))


# A path of the repository named in `code` on a page: a file or folder a reader opens.
NAMED_PATH = re.compile(
    r"`((?:\.ci|\.github|docs|meltano-hub|orchestration|packages|schemas|scripts|tests|"
    r"transform|tap_webex_meetings|target_webex_\w+)/[^`\s]*)`"
)


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_path_a_page_names_exists(page: Path) -> None:
    """Files move (tests into tiers, products into packages/): the page that names one follows."""
    missing = []
    for named in sorted(set(NAMED_PATH.findall(page.read_text()))):
        fixed = re.split(r"[*<]", named, maxsplit=1)[0]  # `schemas/*.json`: the folder exists
        if not (ROOT / fixed).exists() and ROOT / fixed not in PENDING:
            missing.append(named)
    assert missing == []


def test_a_pending_page_that_has_landed_is_checked_like_the_others() -> None:
    landed = sorted(str(page.relative_to(ROOT)) for page in PENDING if page.exists())
    assert landed == [], f"{landed} exist now: remove them from PENDING"
