"""Signed cookie sessions with key rotation and server-side stores, for any ASGI 3 app."""

__all__: list[str] = []
