"""`Jinja2Templates` and the response it returns.

jinja2 is imported when this module loads but a missing jinja2 is reported
only when `Jinja2Templates` is constructed, with what to install: `import
flagstone` (which re-exports this) must keep working in an environment where
someone removed it.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flagstone_contract import Receive, Scope, Send
from flagstone_contract.http import split_host
from flagstone_requests import URL, HTMLResponse, Request

if TYPE_CHECKING:
    import jinja2

try:
    import jinja2 as _jinja2
except ModuleNotFoundError:  # pragma: no cover - exercised in a subprocess test
    _jinja2 = None  # type: ignore[assignment]

__all__ = ["ContextProcessor", "Jinja2Templates", "TemplateResponse"]

PathLike = str | os.PathLike[str]
Background = Callable[[], Awaitable[None]]
ContextProcessor = Callable[[Request], dict[str, Any]]
"""A function from the request to extra template context (run for every render)."""


class _ArgumentsError(TypeError, AssertionError):
    """Neither or both of `directory` and `env`.

    A `TypeError` (a wrong call), and the `AssertionError` Starlette's
    `assert` raises, with its text; which argument to pass is in a note.
    Raised by a real check, so it holds under `python -O` too.
    """


_MISSING_JINJA2 = (
    "Jinja2Templates needs jinja2, which is not installed: "
    "pip install jinja2 (flagstone-templates declares it; was it removed?)"
)


class TemplateResponse(HTMLResponse):
    """An HTML response rendered from a Jinja2 template.

    `template` and `context` stay available for tests.  A template of a
    synchronous environment is rendered at construction (so template errors
    raise where `TemplateResponse` is called, as in Starlette); one of an
    async environment (`enable_async=True`) is rendered with
    `render_async` when the response is sent, on the running event loop
    (asyncio or trio).  Servers that offer the `http.response.debug`
    extension get the template and context, as Starlette's test client
    expects.
    """

    def __init__(
        self,
        template: jinja2.Template,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Background | None = None,
    ) -> None:
        self.template = template
        self.context = context
        self._deferred = template.environment.is_async
        content = None if self._deferred else template.render(context)
        super().__init__(content, status_code, headers, media_type, background)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._deferred:
            self._deferred = False
            self.body = (await self.template.render_async(self.context)).encode(self.charset)
            # The body was empty when the headers were built: redo the length.
            self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
            self.raw_headers.append((b"content-length", str(len(self.body)).encode("latin-1")))
        extensions = scope.get("extensions") or {}
        if "http.response.debug" in extensions:
            await send(
                {
                    "type": "http.response.debug",
                    "info": {"template": self.template, "context": self.context},
                }
            )
        await super().__call__(scope, receive, send)


class Jinja2Templates:
    """Render Jinja2 templates into responses: Starlette's `Jinja2Templates`.

    Give either `directory` (one folder or several, searched in order;
    autoescaping for `.html`, `.htm` and `.xml` templates, as in Starlette)
    or a ready `env`.  Every template can call
    `url_for(name, **path_params)` (an absolute URL, as in Starlette) and
    `path_for(name, **path_params)` (the same URL's path only, which a
    browser resolves against whatever origin it used: safe behind a proxy
    that does not forward the scheme and host), and sees `request`.
    `context_processors` add context from the request for every render.

    `base_url="https://example.com"` (the site's canonical origin: scheme,
    host and an optional port, no path) makes `url_for` build on it instead
    of on the request's scheme and `Host`: a `Host` header is chosen by the
    client, so an absolute URL built from it can name an attacker's host
    (in an e-mail, a cached page or a `<link rel=canonical>`).  The path
    still comes from the routes, the mounts and `root_path`.
    """

    base_url: str | None = None

    def __init__(
        self,
        directory: PathLike | Sequence[PathLike] | None = None,
        *,
        context_processors: list[ContextProcessor] | None = None,
        env: jinja2.Environment | None = None,
        base_url: str | None = None,
    ) -> None:
        if _jinja2 is None:
            raise ModuleNotFoundError(_MISSING_JINJA2, name="jinja2")
        if (directory is None) == (env is None):
            error = _ArgumentsError("either 'directory' or 'env' arguments must be passed")
            error.add_note(
                "flagstone: Jinja2Templates needs exactly one of directory=... (a template folder) or "
                "env=... (a jinja2.Environment)"
            )
            raise error
        self.context_processors = context_processors or []
        self.base_url = None if base_url is None else _origin(base_url)
        if env is None:
            env = _jinja2.Environment(
                loader=_jinja2.FileSystemLoader(directory),  # type: ignore[arg-type]
                # Starlette's rule: HTML and XML templates (and strings) are
                # escaped; a text template (an email, a .txt) renders as written.
                autoescape=_jinja2.select_autoescape(),
            )
        self.env = env
        self._setup_env_defaults(env)

    def _setup_env_defaults(self, env: jinja2.Environment) -> None:
        assert _jinja2 is not None

        @_jinja2.pass_context
        def url_for(context: Any, name: str, /, **path_params: Any) -> Any:
            url = _request_of(context, "url_for").url_for(name, **path_params)
            if self.base_url is None:
                return url
            return URL(self.base_url + url.path)

        @_jinja2.pass_context
        def path_for(context: Any, name: str, /, **path_params: Any) -> str:
            return str(_request_of(context, "path_for").url_for(name, **path_params).path)

        # setdefault: an application's own url_for global wins, as in Starlette.
        env.globals.setdefault("url_for", url_for)
        env.globals.setdefault("path_for", path_for)

    def get_template(self, name: str) -> jinja2.Template:
        """The template `name` from the environment."""
        return self.env.get_template(name)

    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Background | None = None,
    ) -> TemplateResponse:
        """Render template `name` with `context` (plus `request` and the processors' output).

        The request comes first (Starlette 1.0 removed the `(name, context)`
        form; passing a template name first is a `TypeError` saying so).
        """
        if isinstance(request, str):  # type: ignore[unreachable]  # untyped callers
            raise TypeError(
                f"TemplateResponse(request, name, context): the request comes first; "
                f"got the template name {request!r} in its place (Starlette 1.0 removed "
                "the TemplateResponse(name, {'request': request}) form)"
            )
        context = dict(context or {})
        context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        template = self.get_template(name)
        return TemplateResponse(template, context, status_code, headers, media_type, background)


class _NoRequestInContext(RuntimeError, KeyError):
    """`url_for` / `path_for` in a template rendered without `request`.

    A `RuntimeError` saying what to do, and the `KeyError` Starlette raises
    (its `url_for` reads `context["request"]`); its text is the plain message,
    not KeyError's repr.
    """

    def __str__(self) -> str:
        return str(self.args[0])


def _origin(base_url: str) -> str:
    """`base_url` checked to be `http(s)://host[:port]`, without a trailing `/`."""
    scheme, sep, rest = base_url.partition("://")
    host = rest.removesuffix("/")
    if scheme not in ("http", "https") or not sep or split_host(host) is None:
        raise ValueError(
            f"base_url must be the site's origin, like 'https://example.com' or "
            f"'https://example.com:8443' (no path: the path comes from the routes and "
            f"root_path), not {base_url!r}"
        )
    return f"{scheme}://{host}"


def _request_of(context: Any, helper: str) -> Request:
    request = context.get("request")
    if request is None:
        raise _NoRequestInContext(
            f"{helper}() in a template needs `request` in the context: render through "
            "Jinja2Templates.TemplateResponse(request, ...) or pass request= yourself"
        )
    return request  # type: ignore[no-any-return]
