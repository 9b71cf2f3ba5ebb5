"""The documentation site builds in strict mode, and its API pages cover every public name.

``mkdocs build --strict`` fails on any warning: a broken link or anchor, a page left out of the
nav, a mkdocstrings cross-reference that resolves to nothing, a snippet file that is missing.
The build needs the ``docs`` extra (``scripts/bootstrap.sh --dev`` installs it, so CI builds
the site); without it only the build test is skipped.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest

import lmstudio_sdk
import lmstudio_sdk.plugin

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# The site's hooks (scripts/ is not a package): loaded from their file, as mkdocs loads them.
_spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts/mkdocs_hooks.py")
assert _spec is not None and _spec.loader is not None
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)


def html_text(html: str) -> str:
    """The text of a page: tags dropped, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def _pages() -> dict[str, str]:
    return {p.relative_to(DOCS).as_posix(): p.read_text() for p in DOCS.rglob("*.md")}


@pytest.mark.timeout(180)
def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # The reference really is there: each public name has an anchor on some page (the API
    # pages, and the error reference for the exceptions).
    html = "".join(p.read_text() for p in site.rglob("*.html"))
    anchors = set(re.findall(r'id="lmstudio_sdk\.([A-Za-z_][A-Za-z0-9_]*)"', html))
    public = {name for name in lmstudio_sdk._PUBLIC if not name.startswith("__")}
    assert public - anchors == set()
    # Every snippet line became the file it names (none is left as text, as happens when a
    # formatter rewrites `--8<-- "x.py"` into `--8 < --"x.py"`).
    text = html_text(html)
    assert re.search(r"-+8\s*<\s*-+", text) is None
    assert "Stream a chat reply, then print the stats" in html_text(
        (site / "guides/chat/index.html").read_text()
    )
    examples_html = (site / "examples/index.html").read_text()
    for relative in hooks.example_files():
        assert f"<code>examples/{relative}</code>" in examples_html, relative
    plugin_html = (site / "api/plugins/index.html").read_text()
    for name in lmstudio_sdk.plugin.__all__:
        assert f'id="lmstudio_sdk.plugin.{name}"' in plugin_html, name


def test_the_api_pages_claim_every_public_name_once() -> None:
    claims = hooks.expand_markers(_pages(), hooks.public_table())
    seen: dict[str, str] = {}
    for (page, _), names in claims.items():
        for name in names:
            assert name not in seen, f"{name} is on {seen[name]} and on {page}"
            seen[name] = page
    public = {name for name in lmstudio_sdk._PUBLIC if not name.startswith("__")}
    assert set(seen) == public
    assert hooks.public_table() == {n: m.lstrip(".") for n, m in lmstudio_sdk._PUBLIC.items()}


def test_a_new_public_name_lands_on_the_catch_all_page() -> None:
    table = {**hooks.public_table(), "BrandNewThing": "_protocol.brand_new"}
    claims = hooks.expand_markers(_pages(), table)
    before = hooks.expand_markers(_pages(), hooks.public_table())
    rest = [names for (page, patterns), names in claims.items() if patterns == "rest"]
    rest_before = [names for (page, patterns), names in before.items() if patterns == "rest"]
    assert [sorted(names) for names in rest] == [sorted([*rest_before[0], "BrandNewThing"])]


def test_every_exception_is_in_the_error_reference_table() -> None:
    text = (DOCS / "errors.md").read_text()
    rows = set(re.findall(r"^\| \[`(\w+)`\]", text, re.MULTILINE))
    exceptions = {
        name
        for name in lmstudio_sdk._PUBLIC
        if isinstance(getattr(lmstudio_sdk, name), type)
        and issubclass(getattr(lmstudio_sdk, name), lmstudio_sdk.LMStudioError)
    }
    exceptions |= {
        name
        for name in lmstudio_sdk.plugin.__all__
        if isinstance(getattr(lmstudio_sdk.plugin, name), type)
        and issubclass(getattr(lmstudio_sdk.plugin, name), lmstudio_sdk.LMStudioError)
    }
    assert exceptions - rows == set(), "add a row to docs/errors.md"
    assert rows - exceptions == set()
    assert "<!-- api: _exceptions _protocol.errors -->" in text  # the classes' own docstrings


def test_the_examples_page_shows_every_example() -> None:
    files = hooks.example_files()
    expected = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert expected <= set(files)
    assert "plugins/file_tools/src/plugin.py" in files
    markdown = hooks.examples_markdown()
    for relative in files:
        assert f'--8<-- "{relative}"' in markdown
    assert "## `examples/chat_stream.py`\n\nStream a chat reply, then print the stats" in markdown


def test_a_pending_page_joins_the_nav_once_it_exists(tmp_path: Path) -> None:
    nav = [
        {"Home": "index.md"},
        {"Migration guide": "migration.md"},
        {"Guides": [{"Chat": "guides/chat.md"}, {"Later": "migration.md"}]},
    ]
    without = hooks._without_missing_pending(nav, tmp_path)
    assert without == [{"Home": "index.md"}, {"Guides": [{"Chat": "guides/chat.md"}]}]
    (tmp_path / "migration.md").write_text("# Migration\n")
    assert hooks._without_missing_pending(nav, tmp_path) == nav
    # Only the pages named as pending are dropped: any other missing page still fails the build.
    assert hooks._without_missing_pending(["nowhere.md"], tmp_path) == ["nowhere.md"]


def test_snippet_lines_are_well_formed() -> None:
    for page, text in _pages().items():
        for line in text.splitlines():
            if re.match(r"\s*-+8\s*<", line):
                assert re.fullmatch(r'--8<-- "[\w./-]+\.py"', line), f"{page}: {line!r}"


def test_a_page_the_nav_does_not_name_joins_its_last_section(tmp_path: Path) -> None:
    (tmp_path / "index.md").write_text("# Home\n")
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "new-thing.md").write_text("Intro.\n\n# The new thing\n")
    nav = [{"Home": "index.md"}, {"In depth": [{"Old": "old.md"}]}]
    assert hooks.with_unlisted_pages(nav, tmp_path) == [
        {"Home": "index.md"},
        {"In depth": [{"Old": "old.md"}, {"The new thing": "guides/new-thing.md"}]},
    ]
    assert hooks.with_unlisted_pages([{"Home": "index.md"}], tmp_path / "guides") == [
        {"Home": "index.md"}
    ]
