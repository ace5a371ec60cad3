"""A sync and async test client for any ASGI 3 app that streams, times out and validates the app's messages."""

__all__: list[str] = []
