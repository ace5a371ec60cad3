"""The second-wave packages inside an App: StaticFiles and templates under Mounts and root_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from flagstone import (
    App,
    Config,
    Jinja2Templates,
    Mount,
    Request,
    Route,
    Secret,
    StaticFiles,
    TestClient,
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "static" / "css").mkdir(parents=True)
    (tmp_path / "static" / "css" / "site.css").write_text("body{}")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        "{{ url_for('static', path='css/site.css') }}|{{ path_for('static', path='css/site.css') }}"
        "|{{ url_for('page', slug='post-1') }}|{{ request.url.path }}"
    )
    return tmp_path


def make_app(site: Path) -> App:
    templates = Jinja2Templates(directory=site / "templates")

    async def page(request: Request) -> object:
        return templates.TemplateResponse(request, "page.html")

    return App(
        routes=[
            Mount("/static", StaticFiles(directory=site / "static"), name="static"),
            Mount("/blog", routes=[Route("/{slug}", page, name="page")]),
        ]
    )


def test_static_files_are_served_and_reversed(site: Path) -> None:
    app = make_app(site)
    with TestClient(app) as client:
        response = client.get("/static/css/site.css")
        assert response.status_code == 200
        assert response.text == "body{}"
        assert client.get("/static/css/missing.css").status_code == 404
        assert client.get("/static/../secret").status_code == 404
        assert client.post("/static/css/site.css").status_code == 405
    assert app.url_path_for("static", path="css/site.css") == "/static/css/site.css"


def test_url_for_in_templates_under_a_mount(site: Path) -> None:
    with TestClient(make_app(site)) as client:
        body = client.get("/blog/hello").text
    absolute, path, page, current = body.split("|")
    assert absolute == "http://testserver/static/css/site.css"
    assert path == "/static/css/site.css"
    assert page == "http://testserver/blog/post-1"
    assert current == "/blog/hello"


def test_url_for_in_templates_with_root_path(site: Path) -> None:
    # Served under /app (uvicorn --root-path /app): the path keeps the prefix
    # and root_path names it, as ASGI requires.
    with TestClient(make_app(site), root_path="/app") as client:
        body = client.get("/app/blog/hello").text
        css = client.get("/app/static/css/site.css")
    absolute, path, page, _ = body.split("|")
    assert absolute == "http://testserver/app/static/css/site.css"
    assert path == "/app/static/css/site.css"
    assert page == "http://testserver/app/blog/post-1"
    assert css.status_code == 200


def test_path_for_ignores_the_host_and_scheme_the_proxy_did_not_forward(site: Path) -> None:
    with TestClient(make_app(site), base_url="http://internal:8000") as client:
        body = client.get("/blog/x").text
    absolute, path, _, _ = body.split("|")
    assert absolute == "http://internal:8000/static/css/site.css"
    assert path == "/static/css/site.css"


def test_config_secret_is_the_same_class_everywhere() -> None:
    import flagstone_requests

    key = Config(environ={"KEY": "k"})("KEY", cast=Secret)
    assert isinstance(key, flagstone_requests.Secret)


def test_test_client_exposes_template_and_context(site: Path) -> None:
    # Starlette's TestClient does this; ported template tests rely on it.
    with TestClient(make_app(site)) as client:
        response = client.get("/blog/hello")
    assert response.template.name == "page.html"
    assert response.context["request"].url.path == "/blog/hello"
