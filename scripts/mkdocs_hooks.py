"""MkDocs hooks of the documentation site (``mkdocs.yml`` names this file).

Three jobs, so that the site follows the code without hand edits:

1. **API pages from the public table.** A line ``<!-- api: PATTERN [PATTERN ...] -->`` in a page
   becomes one mkdocstrings block (``::: lmstudio_sdk.NAME``) per public name (``_PUBLIC`` in
   ``src/lmstudio_sdk/__init__.py``) whose defining module matches a pattern (``fnmatch`` on
   the module path without its leading dot, e.g. ``_*.client`` or ``_protocol.packets.*``),
   in the order the marker names the modules, each sync name followed by its ``Async`` twin.
   ``<!-- api: rest -->`` takes every public name that no other marker claims, so a new public
   name appears on the site without a nav edit.
2. **Every example on the site.** ``<!-- examples -->`` becomes a section per file of
   ``examples/`` (and each plugin's ``src/plugin.py`` under ``examples/plugins/``): its
   docstring's first line and the whole file, included with pymdownx.snippets.
3. **Pages that land later.** A nav entry in ``PENDING_PAGES`` whose file does not exist yet is
   dropped from the nav (and reported), so the strict build passes before and after it lands;
   a page of ``docs/`` that the nav does not name is added to its last section (``In depth``),
   titled by its first heading, so a page written on another branch is on the site at once.
"""

from __future__ import annotations

import ast
import fnmatch
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mkdocs is only there with the docs extra; tests import this module without
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "src/lmstudio_sdk/__init__.py"
EXAMPLES = ROOT / "examples"

# Pages written on other branches: in the nav once their file exists.
PENDING_PAGES = {"migration.md"}

MARKER = re.compile(r"^<!-- api: (?P<patterns>[^>]*?) -->$", re.MULTILINE)
EXAMPLES_MARKER = "<!-- examples -->"

log = logging.getLogger("mkdocs.hooks.lmstudio_sdk")

_claims: dict[tuple[str, str], list[str]] = {}  # (page, marker patterns) -> names


def public_table(init: Path = INIT) -> dict[str, str]:
    """The ``_PUBLIC`` table of the package, read from its source (nothing is imported).

    Args:
        init: The package's ``__init__.py``.

    Returns:
        Each public name and the module that defines it, relative to the package (``_sync.client``).
    """
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "_PUBLIC"
            and node.value is not None
        ):
            table = ast.literal_eval(node.value)
            return {name: module.lstrip(".") for name, module in table.items()}
    raise RuntimeError(f"no _PUBLIC table in {init}")


def twin_order(name: str) -> tuple[str, bool]:
    """Sort key: ``Client`` then ``AsyncClient``, then the next name."""
    async_twin = name.startswith("Async") and name[5:6].isupper()
    return (name[5:] if async_twin else name).lower(), async_twin


def expand_markers(
    pages: dict[str, str], table: dict[str, str]
) -> dict[tuple[str, str], list[str]]:
    """The names each marker claims, ``rest`` taking what no other marker claims.

    Args:
        pages: Page path -> its Markdown source.
        table: The public table (name -> module).

    Returns:
        (page path, the marker's patterns as written) -> the public names it documents, in order.
    """
    public = [name for name in table if not name.startswith("__")]
    claims: dict[tuple[str, str], list[str]] = {}
    for path, text in sorted(pages.items()):
        for match in MARKER.finditer(text):
            patterns = match["patterns"].split()
            claims[path, match["patterns"]] = [
                n for n in public if any(fnmatch.fnmatch(table[n], p) for p in patterns)
            ]
    claimed = {
        name for (_, patterns), names in claims.items() if patterns != "rest" for name in names
    }
    for path, patterns in claims:
        if patterns == "rest":
            claims[path, patterns] = [n for n in public if n not in claimed]
    return {
        (path, patterns): sorted(names, key=lambda n: (_family(table[n], patterns), twin_order(n)))
        for (path, patterns), names in claims.items()
    }


def _family(module: str, patterns: str) -> int:
    """Which pattern of the marker (the sync and async twins of one counting as one) matches
    ``module`` first: a page lists its modules in the order its marker names them."""
    families: list[str] = []
    for pattern in patterns.split():
        family = re.sub(r"^_(a?sync)\.", "_*.", pattern)
        if family not in families:
            families.append(family)
    return next(
        (i for i, family in enumerate(families) if fnmatch.fnmatch(module, family)), len(families)
    )


def example_files(examples: Path = EXAMPLES) -> list[str]:
    """The example files, relative to ``examples/``: scripts first, then plugins."""
    scripts = sorted(p.name for p in examples.glob("*.py"))
    plugins = sorted(
        p.relative_to(examples).as_posix() for p in examples.glob("plugins/*/src/*.py")
    )
    return scripts + [p for p in plugins if not p.endswith("__init__.py")]


def examples_markdown(examples: Path = EXAMPLES) -> str:
    """A section per example: its path, its docstring's first line, and the file itself."""
    sections = []
    for relative in example_files(examples):
        tree = ast.parse((examples / relative).read_text(encoding="utf-8"))
        summary = (ast.get_docstring(tree) or "").split("\n\n")[0].replace("\n", " ")
        sections.append(
            f'## `examples/{relative}`\n\n{summary}\n\n```python\n--8<-- "{relative}"\n```'
        )
    return "\n\n".join(sections)


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Drop pending pages that are not there yet; find what each API marker claims."""
    docs = Path(config.docs_dir)
    if config.nav is not None:
        config.nav = with_unlisted_pages(_without_missing_pending(config.nav, docs), docs)
    pages = {
        path.relative_to(docs).as_posix(): path.read_text(encoding="utf-8")
        for path in docs.rglob("*.md")
    }
    _claims.clear()
    _claims.update(expand_markers(pages, public_table()))
    return config


def _nav_files(nav: Any) -> set[str]:
    if isinstance(nav, list):
        return {f for item in nav for f in _nav_files(item)}
    if isinstance(nav, dict):
        return {f for value in nav.values() for f in _nav_files(value)}
    return {nav} if isinstance(nav, str) else set()


def with_unlisted_pages(nav: list[Any], docs: Path) -> list[Any]:
    """The nav with every page of ``docs`` it does not name added to its last section.

    Args:
        nav: The nav as ``mkdocs.yml`` gives it (a list of ``{title: page or section}``).
        docs: The docs folder.

    Returns:
        The same nav, its last section extended by ``{first heading: page}`` per unlisted page.
    """
    listed = _nav_files(nav)
    unlisted = sorted(
        path.relative_to(docs).as_posix()
        for path in docs.rglob("*.md")
        if path.relative_to(docs).as_posix() not in listed
    )
    if not unlisted or not nav or not isinstance(nav[-1], dict):
        return nav
    (title, section), *_ = nav[-1].items()
    if not isinstance(section, list):
        return nav
    extra: list[Any] = []
    for page in unlisted:
        heading = re.search(r"^# (.+)$", (docs / page).read_text(encoding="utf-8"), re.MULTILINE)
        extra.append({heading[1].strip() if heading else page: page})
        log.info("%s is not in mkdocs.yml's nav: listed under %r", page, title)
    return [*nav[:-1], {title: [*section, *extra]}]


def _without_missing_pending(nav: Any, docs: Path) -> Any:
    if isinstance(nav, list):
        items = [_without_missing_pending(item, docs) for item in nav]
        return [item for item in items if item is not None]
    if isinstance(nav, dict):
        entries = {key: _without_missing_pending(value, docs) for key, value in nav.items()}
        return {key: value for key, value in entries.items() if value is not None} or None
    if isinstance(nav, str) and nav in PENDING_PAGES and not (docs / nav).is_file():
        log.info("%s is not written yet: left out of the nav until it lands", nav)
        return None
    return nav


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace each API marker with the mkdocstrings blocks of the names it claims."""

    def blocks(match: re.Match[str]) -> str:
        names = _claims.get((page.file.src_uri, match["patterns"]), [])
        if not names:
            return "*None at the moment.*"
        return "\n\n".join(f"::: lmstudio_sdk.{name}" for name in names)

    if EXAMPLES_MARKER in markdown:
        markdown = markdown.replace(EXAMPLES_MARKER, examples_markdown())
    return MARKER.sub(blocks, markdown)
