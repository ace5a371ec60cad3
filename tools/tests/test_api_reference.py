"""Every public name of every package appears in the site's API reference."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

import api_reference  # noqa: E402
from _workspace import packages  # noqa: E402

PACKAGES = packages(ROOT)


@pytest.mark.parametrize("pkg", PACKAGES, ids=[p.short for p in PACKAGES])
def test_each_package_has_a_reference_page(pkg) -> None:  # type: ignore[no-untyped-def]
    assert f"::: {pkg.import_name}" in api_reference.page(pkg).read_text()


@pytest.mark.parametrize("pkg", PACKAGES, ids=[p.short for p in PACKAGES])
def test_the_static_view_is_the_runtime_all(pkg) -> None:  # type: ignore[no-untyped-def]
    # mkdocstrings reads the sources without importing them: what it takes
    # for `__all__` must be what `import` gives.
    module = importlib.import_module(pkg.import_name)
    assert sorted(api_reference.exports(pkg)) == sorted(module.__all__)


def test_every_name_in_every_all_is_in_the_api_reference() -> None:
    assert api_reference.missing(ROOT) == []


def copy_site_sources(target: Path) -> Path:
    shutil.copy(ROOT / "mkdocs.yml", target / "mkdocs.yml")
    shutil.copytree(ROOT / "docs" / "api", target / "docs" / "api")
    for pkg in PACKAGES:
        shutil.copytree(pkg.folder / "src", target / pkg.folder.relative_to(ROOT) / "src")
        shutil.copy(pkg.folder / "pyproject.toml", target / pkg.folder.relative_to(ROOT))
    return target


def test_a_name_added_to_all_but_not_rendered_is_reported(tmp_path: Path) -> None:
    root = copy_site_sources(tmp_path)
    # The page renders one member explicitly instead of the whole module.
    page = root / "docs" / "api" / "templates.md"
    page.write_text("# templates\n\n::: flagstone_templates.Jinja2Templates\n")
    # ...and the meta package's re-exports of them are missing with them.
    assert sorted(api_reference.missing(root)) == [
        "flagstone.ContextProcessor: in __all__ but not rendered by docs/api/meta.md",
        "flagstone.TemplateResponse: in __all__ but not rendered by docs/api/meta.md",
        "flagstone_templates.ContextProcessor: in __all__ but not rendered by docs/api/templates.md",
        "flagstone_templates.TemplateResponse: in __all__ but not rendered by docs/api/templates.md",
    ]


def test_a_filtered_out_name_is_reported(tmp_path: Path) -> None:
    root = copy_site_sources(tmp_path)
    config = root / "mkdocs.yml"
    text = config.read_text()
    assert 'filters: ["!^_[^_]"' in text
    config.write_text(text.replace('filters: ["!^_[^_]"', 'filters: ["!^_[^_]", "!^CachePolicy$"'))
    assert sorted(api_reference.missing(root)) == [
        "flagstone.CachePolicy: in __all__ but not rendered by docs/api/meta.md",
        "flagstone_staticfiles.CachePolicy: in __all__ but not rendered by docs/api/staticfiles.md",
    ]


def test_a_meta_re_export_is_found_on_its_home_page(tmp_path: Path) -> None:
    root = copy_site_sources(tmp_path)
    page = root / "docs" / "api" / "sessions.md"
    page.write_text("# sessions\n\n::: flagstone_sessions.SessionMiddleware\n")
    problems = api_reference.missing(root)
    assert "flagstone.Session: in __all__ but not rendered by docs/api/meta.md" in problems
    assert (
        "flagstone.SessionMiddleware: in __all__ but not rendered by docs/api/meta.md"
        not in problems
    )


@pytest.mark.parametrize("pkg", PACKAGES, ids=[p.short for p in PACKAGES])
def test_each_package_has_a_changelog_page_that_includes_its_changelog(pkg) -> None:  # type: ignore[no-untyped-def]
    page = ROOT / "docs" / "changelog" / f"{pkg.short}.md"
    changelog = (pkg.folder / "CHANGELOG.md").relative_to(ROOT).as_posix()
    assert f'--8<-- "{changelog}"' in page.read_text()


@pytest.mark.parametrize("pkg", PACKAGES, ids=[p.short for p in PACKAGES])
def test_mkdocstrings_reads_each_package_from_its_sources(pkg) -> None:  # type: ignore[no-untyped-def]
    src = (pkg.folder / "src").relative_to(ROOT).as_posix()
    assert f"            - {src}\n" in (ROOT / "mkdocs.yml").read_text()
