"""Requests, responses, WebSockets, forms and error handling for any ASGI 3 app."""

__all__: list[str] = []
