"""Starlette-compatible ASGI routing whose matching cost does not grow with the route table."""

__all__: list[str] = []
