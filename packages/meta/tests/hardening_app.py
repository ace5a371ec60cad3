"""The apps test_hardening.py serves with uvicorn (a subprocess cannot take fixtures).

`app`: every place that could build an absolute URL from the request's
`Host` (issue 27), each under its own prefix:

- `/alone/...`: `HTTPSRedirectMiddleware` with nothing configured;
- `/trusted/...`: inside `TrustedHostMiddleware(allowed_hosts=["example.com"])`;
- `/canonical/...`: `HTTPSRedirectMiddleware(host="example.com")`;
- `/private`: `@requires("authenticated", redirect="login")`;
- `/page`: a template's `url_for` with `Jinja2Templates(base_url="https://example.com")`.

`broken`: `SessionMiddleware` without `secret_key`, the misconfiguration
whose startup must fail.
"""

from __future__ import annotations

import jinja2

from flagstone import (
    App,
    AuthenticationBackend,
    AuthenticationMiddleware,
    HTTPConnection,
    HTTPSRedirectMiddleware,
    Jinja2Templates,
    Middleware,
    Mount,
    PlainTextResponse,
    Receive,
    Request,
    Route,
    Scope,
    Send,
    SessionMiddleware,
    TrustedHostMiddleware,
    requires,
)


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("plain http")(scope, receive, send)


class _Anonymous(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> None:
        return None


@requires("authenticated", redirect="login")
async def private(request: Request) -> PlainTextResponse:
    return PlainTextResponse("private")


async def login(request: Request) -> PlainTextResponse:
    return PlainTextResponse("login")


templates = Jinja2Templates(
    env=jinja2.Environment(loader=jinja2.DictLoader({"page.html": "{{ url_for('login') }}"})),
    base_url="https://example.com",
)


async def page(request: Request) -> object:
    return templates.TemplateResponse(request, "page.html")


app = App(
    routes=[
        Mount("/alone", HTTPSRedirectMiddleware(_ok)),
        Mount(
            "/trusted",
            TrustedHostMiddleware(HTTPSRedirectMiddleware(_ok), allowed_hosts=["example.com"]),
        ),
        Mount("/canonical", HTTPSRedirectMiddleware(_ok, host="example.com")),
        Route("/private", private),
        Route("/login", login, name="login"),
        Route("/page", page),
    ],
    middleware=[Middleware(AuthenticationMiddleware, backend=_Anonymous())],
)

broken = App(routes=[Route("/login", login)], middleware=[Middleware(SessionMiddleware)])
