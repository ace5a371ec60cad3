"""The router's index: which routes could possibly match a path.

Starlette asks every route in order (about 1 us per route per request).  The
index answers the cheaper question "which routes *can* match this path?"
and the router then asks only those routes, still in declaration order and
still through each route's own regex and convertors.  So every semantic
(first FULL match wins, PARTIAL matches give 405, Mount and Host prefixes,
convertors, redirect_slashes) is exactly the linear scan's: the index only
skips routes whose answer would have been NONE.

Structure: one segment trie per scope type ("http", "websocket").  A path
template is split on "/" (the same split applied to the request path) and
described by `segment_shape`:

- a literal segment is a key in `node.static` (a dict: O(1) per segment);
- a segment holding placeholders that cannot match "/" descends through
  `node.param`, which accepts any one request segment;
- a placeholder that can match "/" (`{p:path}`, a Mount's tail) puts the
  route in `node.rest`: a candidate for every path that reaches the node;
- a template that ends at a node puts the route in `node.end`.

Routes the index cannot describe (Host, custom route classes, a route
subclass whose `path_regex` is not its template's own) sit in the root's
`rest` list and are tried on every request, as in a linear scan.

A lookup walks both the static child and the param child at each depth,
collecting `rest` lists on the way and `end` at the last segment.  Each trie
node is reached by at most one path from the root, so a lookup never costs
more than the trie's size and usually costs the path's depth: for
`/api/v1/resource999/7` among 1,000 routes it visits four nodes and yields
one candidate.  The candidates are sorted by declaration index, which
restores first-match-in-order across static and param branches.

Two shortcuts answer without walking: fully static templates ("/",
"/health") have their candidate list precomputed in a dict, and a table of
at most `SMALL_TABLE` routes (per scope type) is simply asked in full, which
is cheaper than a walk at that size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from flagstone_contract import Receive, Scope, Send

from ._compile import LITERAL, ONE, REST, Segment
from ._routes import BaseRoute, Match

__all__ = ["RouteIndex"]


class _Node:
    __slots__ = ("chain", "end", "param", "rest", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.end: list[int] = []
        self.rest: list[int] = []
        # Set by `_compress`: (literals, node) when the only way down from
        # here is that run of literal segments through nodes where nothing
        # else happens ("/api/v1/..." shared by every route).
        self.chain: tuple[list[str], _Node] | None = None


def _compress(root: _Node) -> None:
    """Give every node whose descent is a run of 2+ lone literal segments its `chain`."""
    # Iterative, like the walk: a template's depth is not bounded by the
    # interpreter's recursion limit.
    pending = [root]
    while pending:
        node = pending.pop()
        pending.extend(node.static.values())
        if node.param is not None:
            pending.append(node.param)
            continue
        literals: list[str] = []
        target = node
        while len(target.static) == 1 and target.param is None:
            if literals and (target.rest or target.end):
                break  # something is collected here: the walk must stop at it
            ((text, target),) = target.static.items()
            literals.append(text)
        if len(literals) >= 2:
            node.chain = (literals, target)


def _insert(root: _Node, index: int, shape: list[Segment] | None) -> None:
    if shape is None:
        root.rest.append(index)
        return
    node = root
    for kind, text in shape:
        if kind == LITERAL:
            child = node.static.get(text)
            if child is None:
                child = node.static[text] = _Node()
            node = child
        elif kind == ONE:
            if node.param is None:
                node.param = _Node()
            node = node.param
        else:
            assert kind == REST
            node.rest.append(index)
            return
    node.end.append(index)


def _collect(node: _Node, parts: list[str], out: list[int]) -> None:
    # Iterative walk: follow one branch and remember the other (the param
    # child) only where a node has both, which most nodes do not.
    last = len(parts)
    depth = 0
    pending: list[tuple[_Node, int]] | None = None
    while True:
        if node.rest:
            out.extend(node.rest)
        if depth == last:
            if node.end:
                out.extend(node.end)
        elif node.chain is not None:
            # One slice comparison instead of a step per segment; a mismatch
            # (or a path that ends inside the run) is a dead end, since the
            # nodes skipped hold nothing and have no param child.
            literals, target = node.chain
            end = depth + len(literals)
            if parts[depth:end] == literals:
                node, depth = target, end
                continue
        else:
            child = node.static.get(parts[depth])
            param = node.param
            depth += 1
            if child is not None:
                if param is not None:
                    if pending is None:
                        pending = []
                    pending.append((param, depth))
                node = child
                continue
            if param is not None:
                node = param
                continue
        if not pending:
            return
        node, depth = pending.pop()


class RouteIndex:
    """A precompiled index over a router's routes (rebuilt when the routes change)."""

    __slots__ = ("_roots", "_static", "failures", "handlers", "matchers", "routes", "small_tables")

    # At or below this many routes of a scope type, asking them all is cheaper
    # than walking the trie (a failing regex stops at its first literal), so
    # the whole list is the candidate list: still a bounded cost, same answer.
    SMALL_TABLE = 4

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._roots: dict[str, _Node] = {"http": _Node(), "websocket": _Node()}
        # The routes the positions refer to (the router's live list: any
        # change to it drops this index).
        self.routes = routes
        # What the router calls for the route at each position (see
        # `BaseRoute.path_matcher`), resolved once per index, not per request.
        self.matchers: list[Callable[[Scope, str], tuple[Match, Scope]]] = [
            route.path_matcher() for route in routes
        ]
        # Positions whose endpoint adapter raised, and what it raised (the
        # router fills it in and makes their handlers raise it).
        self.failures: dict[int, Exception] = {}
        # What serves a FULL match at each position (`full_match_handler`).
        self.handlers: list[Callable[[Scope, Receive, Send], Awaitable[None]]] = [
            route.full_match_handler() for route in routes
        ]
        static_paths: set[tuple[str, str]] = set()  # (scope type, path)
        for index, route in enumerate(routes):
            shape = route.index_shape()
            for scope_type in route.scope_types:
                root = self._roots.get(scope_type)
                if root is not None:
                    _insert(root, index, shape)
                    if shape is not None and all(kind == LITERAL for kind, _ in shape):
                        static_paths.add((scope_type, "/".join(text for _, text in shape)))
        for root in self._roots.values():
            _compress(root)
        # Fully static templates ("/", "/health") get their candidate list
        # precomputed: one dict lookup instead of a walk.  Only paths that
        # are in the route table are stored, so the table's size is bounded
        # by the routes, never by what clients send.
        # Read by the router before it calls `candidates` (saving the call).
        self.small_tables: dict[str, list[int]] = {}
        for scope_type in self._roots:
            members = [i for i, route in enumerate(routes) if scope_type in route.scope_types]
            if len(members) <= self.SMALL_TABLE:
                self.small_tables[scope_type] = members
        self._static: dict[str, dict[str, list[int]]] = {"http": {}, "websocket": {}}
        for scope_type, path in static_paths:
            self._static[scope_type][path] = self._walk(scope_type, path)

    def _walk(self, scope_type: str, route_path: str) -> list[int]:
        root = self._roots.get(scope_type)
        if root is None:
            return []
        out: list[int] = []
        _collect(root, route_path.split("/"), out)
        if len(out) > 1:
            # A route can be collected once only (it sits in one list of one
            # node), so sorting alone restores declaration order.
            out.sort()
        return out

    def candidates(self, scope_type: str, route_path: str) -> list[int]:
        """Indices of the routes that may match, in declaration order."""
        # Inlined rather than calling `_walk`: this runs on every request.
        small = self.small_tables.get(scope_type)
        if small is not None:
            return small
        static = self._static.get(scope_type)
        if static is None:
            return []
        found = static.get(route_path)
        if found is not None:
            return found
        out: list[int] = []
        _collect(self._roots[scope_type], route_path.split("/"), out)
        if len(out) > 1:
            out.sort()
        return out
