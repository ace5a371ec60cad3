"""AuthenticationMiddleware and the user/credential types, in front of raw ASGI and Starlette."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from middleware_helpers import call
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from flagstone_middleware import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    AuthenticationMiddleware,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)

pytestmark = pytest.mark.anyio


class BasicAuth(AuthenticationBackend):
    """Reads `Authorization: Basic`, from a connection object or the raw scope."""

    async def authenticate(self, conn: Any) -> tuple[AuthCredentials, BaseUser] | None:
        headers = dict(conn["headers"])
        value = headers.get(b"authorization")
        if value is None:
            return None
        scheme, _, credentials = value.decode().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = (
                base64.b64decode(credentials, validate=True).decode().partition(":")
            )
        except ValueError:
            raise AuthenticationError("Invalid basic auth credentials") from None
        if password != "secret":
            raise AuthenticationError("Wrong password")
        return AuthCredentials(["authenticated"]), SimpleUser(username)


def basic(user: str, password: str = "secret") -> list[tuple[str, str]]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return [("authorization", f"Basic {token}")]


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    """Reads scope["auth"] and scope["user"] directly: no flagstone-requests needed."""
    user, auth = scope["user"], scope["auth"]
    body = f"{user.is_authenticated} {user.display_name!r} {sorted(auth.scopes)}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def starlette_app() -> Any:
    async def whoami(request: StarletteRequest) -> JSONResponse:
        return JSONResponse(
            {
                "authenticated": request.user.is_authenticated,
                "name": request.user.display_name,
                "scopes": request.auth.scopes,
            }
        )

    return Starlette(routes=[Route("/", whoami)])


async def test_raw_app_reads_user_and_auth_from_the_scope() -> None:
    app = AuthenticationMiddleware(raw_app, backend=BasicAuth())
    assert (await call(app, headers=basic("ada"))).text == "True 'ada' ['authenticated']"
    assert (await call(app)).text == "False '' []"


async def test_in_front_of_starlette_its_request_user_works() -> None:
    app = AuthenticationMiddleware(starlette_app(), backend=BasicAuth())
    result = await call(app, headers=basic("ada"))
    assert result.text == '{"authenticated":true,"name":"ada","scopes":["authenticated"]}'
    anonymous = await call(app)
    assert anonymous.text == '{"authenticated":false,"name":"","scopes":[]}'


async def test_authentication_error_is_400_by_default() -> None:
    app = AuthenticationMiddleware(raw_app, backend=BasicAuth())
    result = await call(app, headers=basic("ada", "wrong"))
    assert result.status == 400
    assert result.text == "Wrong password"


async def test_on_error_chooses_the_response() -> None:
    async def unauthorized(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b"who are you?"})

    seen: list[Any] = []

    def on_error(conn: Any, exc: AuthenticationError) -> Any:
        seen.append(str(exc))
        return unauthorized

    app = AuthenticationMiddleware(raw_app, backend=BasicAuth(), on_error=on_error)
    result = await call(app, headers=[("authorization", "Basic !!!")])
    assert result.status == 401
    assert seen == ["Invalid basic auth credentials"]


async def test_websocket_error_closes_and_success_sets_the_user() -> None:
    users: list[Any] = []

    async def ws_app(scope: Any, receive: Any, send: Any) -> None:
        users.append(scope["user"].display_name)
        await send({"type": "websocket.close", "code": 1000})

    app = AuthenticationMiddleware(ws_app, backend=BasicAuth())
    refused = await call(app, type="websocket", scheme="ws", headers=basic("ada", "wrong"))
    assert refused.messages == [{"type": "websocket.close", "code": 1000}]
    await call(app, type="websocket", scheme="ws", headers=basic("bob"))
    assert users == ["bob"]


async def test_lifespan_is_not_authenticated() -> None:
    class Boom(AuthenticationBackend):
        async def authenticate(self, conn: Any) -> None:
            raise AssertionError("lifespan must not be authenticated")

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await AuthenticationMiddleware(app, backend=Boom())({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_users_and_credentials() -> None:
    user = SimpleUser("ada")
    assert (user.is_authenticated, user.display_name, user.identity) == (True, "ada", "ada")
    anonymous = UnauthenticatedUser()
    assert (anonymous.is_authenticated, anonymous.display_name, anonymous.identity) == (
        False,
        "",
        "",
    )
    assert AuthCredentials().scopes == []
    assert AuthCredentials(("a", "b")).scopes == ["a", "b"]
    with pytest.raises(NotImplementedError):
        _ = BaseUser().is_authenticated


async def test_backend_without_authenticate_says_so() -> None:
    with pytest.raises(NotImplementedError):
        await AuthenticationBackend().authenticate({})  # type: ignore[arg-type]
