"""Jinja2Templates: Starlette's API, context processors, async environments, clear errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import pytest

from flagstone_requests import HTMLResponse, Request
from flagstone_templates import Jinja2Templates, TemplateResponse

MakeRequest = Callable[..., Request]


def test_renders_with_request_in_context(template_dir: Path, make_request: MakeRequest) -> None:
    templates = Jinja2Templates(directory=template_dir)
    request = make_request("/greet")
    response = templates.TemplateResponse(request, "hello.html", {"name": "Ada"})
    assert isinstance(response, HTMLResponse)
    assert isinstance(response, TemplateResponse)
    assert response.body == b"Hello Ada at /greet"
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.template.name == "hello.html"
    assert response.context["request"] is request
    assert response.context["name"] == "Ada"


def test_status_headers_media_type_and_keyword_form(
    template_dir: Path, make_request: MakeRequest
) -> None:
    templates = Jinja2Templates(template_dir)
    response = templates.TemplateResponse(
        request=make_request(),
        name="hello.html",
        context={"name": "x"},
        status_code=404,
        headers={"x-extra": "1"},
        media_type="text/plain",
    )
    assert response.status_code == 404
    assert response.headers["x-extra"] == "1"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_the_callers_context_is_not_mutated(template_dir: Path, make_request: MakeRequest) -> None:
    context = {"name": "Ada"}
    Jinja2Templates(template_dir).TemplateResponse(make_request(), "hello.html", context)
    assert context == {"name": "Ada"}


def test_autoescape_is_on(template_dir: Path, make_request: MakeRequest) -> None:
    response = Jinja2Templates(template_dir).TemplateResponse(
        make_request(), "escape.html", {"value": "<script>alert(1)</script>"}
    )
    assert response.body == b"&lt;script&gt;alert(1)&lt;/script&gt;"


def test_a_text_template_is_not_html_escaped(tmp_path: Path, make_request: MakeRequest) -> None:
    # Starlette's `select_autoescape()`: only HTML and XML templates escape.
    (tmp_path / "mail.txt").write_text("Dear {{ name }}")
    (tmp_path / "feed.xml").write_text("<t>{{ name }}</t>")
    templates = Jinja2Templates(tmp_path)
    context = {"name": "Tom & Jerry"}
    assert templates.get_template("mail.txt").render(context) == "Dear Tom & Jerry"
    assert templates.get_template("feed.xml").render(context) == "<t>Tom &amp; Jerry</t>"


def test_several_directories_are_searched_in_order(
    tmp_path: Path, make_request: MakeRequest
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "x.html").write_text("first")
    (second / "x.html").write_text("second")
    (second / "y.html").write_text("only second")
    templates = Jinja2Templates([first, second])
    assert templates.TemplateResponse(make_request(), "x.html").body == b"first"
    assert templates.TemplateResponse(make_request(), "y.html").body == b"only second"


def test_context_processors_run_for_every_render(
    template_dir: Path, make_request: MakeRequest
) -> None:
    seen: list[Request] = []

    def user(request: Request) -> dict[str, Any]:
        seen.append(request)
        return {"user": request.url.path.strip("/")}

    def theme(request: Request) -> dict[str, Any]:
        return {"theme": "dark"}

    templates = Jinja2Templates(template_dir, context_processors=[user, theme])
    request = make_request("/ada")
    assert templates.TemplateResponse(request, "user.html").body == b"ada dark"
    assert seen == [request]


def test_a_ready_environment_gets_the_helpers(make_request: MakeRequest) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for is defined }}"}))
    templates = Jinja2Templates(env=env)
    assert templates.env is env
    assert templates.TemplateResponse(make_request(), "t.html").body == b"True"
    assert "path_for" in env.globals


def test_an_apps_own_url_for_wins(make_request: MakeRequest) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('x') }}"}))
    env.globals["url_for"] = lambda name: f"custom:{name}"
    assert Jinja2Templates(env=env).TemplateResponse(make_request(), "t.html").body == b"custom:x"


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="neither"),
        pytest.param({"directory": "x", "env": jinja2.Environment()}, id="both"),
    ],
)
def test_exactly_one_of_directory_and_env(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="exactly one of directory"):  # in the note
        Jinja2Templates(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="neither"),
        pytest.param({"directory": "dir", "env": jinja2.Environment()}, id="both"),
    ],
)
def test_starlette_assertion_and_its_text(kwargs: dict[str, Any]) -> None:
    with pytest.raises(AssertionError) as info:
        Jinja2Templates(**kwargs)
    assert str(info.value) == "either 'directory' or 'env' arguments must be passed"


def test_the_old_name_first_form_is_a_clear_error(
    template_dir: Path, make_request: MakeRequest
) -> None:
    templates = Jinja2Templates(template_dir)
    with pytest.raises(TypeError, match="the request comes first"):
        templates.TemplateResponse("hello.html", {"request": make_request()})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        pytest.param("nope.html", jinja2.TemplateNotFound, id="missing-template"),
        pytest.param("syntax.html", jinja2.TemplateSyntaxError, id="syntax-error"),
        pytest.param("broken.html", jinja2.UndefinedError, id="undefined-attribute"),
    ],
)
def test_template_errors_raise_at_the_call(
    template_dir: Path, make_request: MakeRequest, name: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        Jinja2Templates(template_dir).TemplateResponse(make_request(), name)


def test_url_for_without_a_request_in_context_says_so() -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('x') }}"}))
    templates = Jinja2Templates(env=env)
    with pytest.raises(RuntimeError, match="needs `request` in the context"):
        templates.get_template("t.html").render({})
    # Also the KeyError Starlette's url_for raises (it reads context["request"]).
    with pytest.raises(KeyError):
        templates.get_template("t.html").render({})


def test_url_for_without_a_router_says_what_to_do(make_request: MakeRequest) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ url_for('home') }}"}))
    with pytest.raises(RuntimeError, match="can only be used inside a Starlette application"):
        Jinja2Templates(env=env).TemplateResponse(make_request(), "t.html")


@pytest.mark.anyio
async def test_response_sends_debug_info_when_the_server_offers_it(
    template_dir: Path, make_request: MakeRequest, send_through: Any, make_scope: Any
) -> None:
    response = Jinja2Templates(template_dir).TemplateResponse(
        make_request(), "hello.html", {"name": "x"}
    )
    scope = make_scope(extensions={"http.response.debug": {}})
    sent = await send_through(response, scope)
    assert sent[0]["type"] == "http.response.debug"
    assert sent[0]["info"]["template"].name == "hello.html"
    assert sent[0]["info"]["context"]["name"] == "x"
    plain = await send_through(response, make_scope())
    assert [m["type"] for m in plain] == ["http.response.start", "http.response.body"]


@pytest.mark.anyio
async def test_async_environment_renders_on_the_running_loop(
    make_request: MakeRequest, send_through: Any, make_scope: Any
) -> None:
    async def fetch_name() -> str:
        return "from a coroutine"

    env = jinja2.Environment(
        loader=jinja2.DictLoader({"a.html": "{{ fetch() }} {{ request.url.path }}"}),
        enable_async=True,
        autoescape=True,
    )
    templates = Jinja2Templates(env=env)
    response = templates.TemplateResponse(make_request("/async"), "a.html", {"fetch": fetch_name})
    sent = await send_through(response, make_scope())
    body = b"from a coroutine /async"
    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(body)).encode()
    assert sent[1]["body"] == body
    assert response.body == body


def test_missing_jinja2_is_a_clear_error_at_construction() -> None:
    code = (
        "import sys; sys.modules['jinja2'] = None\n"
        "import flagstone_templates\n"  # importing still works
        "try:\n"
        "    flagstone_templates.Jinja2Templates(directory='.')\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc.name, '|', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("jinja2 | Jinja2Templates needs jinja2")
    assert "pip install jinja2" in out.stdout


class _Path(str):
    def make_absolute_url(self, base_url: Any) -> str:
        return str(base_url).rstrip("/") + self


class _Router:
    """The least a router offers `url_for`: `url_path_for` with `make_absolute_url`."""

    def url_path_for(self, name: str, /, **params: Any) -> _Path:
        return _Path(f"/static/{params['path']}")


LINK = "{{ url_for('static', path='app.css') }}"


@pytest.mark.parametrize(
    ("base_url", "root_path", "expected"),
    [
        pytest.param(None, "", "http://evil.com/static/app.css", id="starlette-default"),
        pytest.param("https://example.com", "", "https://example.com/static/app.css", id="base"),
        pytest.param(
            "https://example.com:8443/",
            "/app",
            "https://example.com:8443/app/static/app.css",
            id="port-and-root-path",
        ),
    ],
)
def test_url_for_builds_on_the_configured_base_url_not_the_host(
    make_request: MakeRequest, base_url: str | None, root_path: str, expected: str
) -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": LINK}))
    templates = Jinja2Templates(env=env, base_url=base_url)
    request = make_request(
        root_path + "/page",
        headers=[(b"host", b"evil.com")],
        router=_Router(),
        root_path=root_path,
    )
    assert templates.TemplateResponse(request, "t.html").body.decode() == expected


@pytest.mark.parametrize(
    "base_url",
    ["example.com", "ftp://example.com", "https://example.com/app", "https://evil.com@x", ""],
)
def test_base_url_must_be_an_origin(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url must be the site's origin"):
        Jinja2Templates(env=jinja2.Environment(), base_url=base_url)
