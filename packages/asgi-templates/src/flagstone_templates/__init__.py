"""Jinja2 templates for any ASGI 3 app: Starlette's `Jinja2Templates`.

`Jinja2Templates(...).TemplateResponse(request, name, context)` renders into
an HTML response, with `url_for` / `path_for` and `request` in every
template, context processors and async Jinja environments.  It is not a
template engine: Jinja2 is, and it is a dependency.
"""

__version__ = "0.2.0"

from ._templates import ContextProcessor, Jinja2Templates, TemplateResponse

__all__ = ["ContextProcessor", "Jinja2Templates", "TemplateResponse"]
