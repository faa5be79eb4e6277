"""The import graph of services/ and shared/ (built by grimp from the source, TYPE_CHECKING and function-local
imports included): no import cycles, and pure domain modules reach no database, HTTP or ASGI library."""

from __future__ import annotations

import fnmatch

import grimp
import pytest

# Pure domain modules: decisions and formats as functions of their arguments. They may import each other, the
# standard library and pure third-party libraries (pydantic, msgspec, ...), never I/O frameworks, even indirectly.
# `*` matches one dotted level, `**` any depth.
PURE_MODULES = (
    "shared.contracts",
    "shared.quality",
    "shared.durations",
    "shared.commitments",
    "shared.worker",
    "shared.settlement",
    "shared.settlement.**",
    "shared.ledger",
    "shared.ledger.**",
    "shared.history",
    "shared.history.codec",
    "shared.history.spans",
    "shared.history.merge",
    "shared.history.columns",
    "shared.pgbinary",
    "services.alerts.lifecycle",
    "services.alerts.model",
    "services.alerts.params",
    "services.alerts.rules",
    "services.alerts.baseload_rules",
    "services.alerts.deviation",
    "services.alerts.frequency_response",
    "services.alerts.matchers",
    "services.alerts.signing",
    "services.alerts.formats",
    "services.alerts.formats.*",
    "services.api.buckets",
    "services.api.aggregates",
    "services.api.frequency",
    "services.api.raw",
    "services.api.csvout",
    "services.api.cache",
    "services.api.disputes.workflow",
    "services.ingest.validation",
    "services.ingest.retention",
    "services.ingest.lineprotocol",
    "services.ingest.decoding",
    "services.gateway.delivery",
    "services.gateway.codec",
    "services.gateway.readings",
    "services.gateway.config",
    "services.gateway.buffer",
    "services.gateway.intake",
    "services.simulator.model",
    "services.simulator.noise",
    "services.simulator.registers",
    "services.simulator.clock",
    "services.sink.verify",
    "services.sink.describe",
)
IO_LIBRARIES = ("asyncpg", "fastapi", "httpx", "starlette", "uvicorn")

# Cycles that exist today, each with the helper who owns the files; remove an entry once its cycle is gone.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("services", "shared", include_external_packages=True, cache_dir=None)


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[frozenset[str]]:
    """Tarjan's algorithm, iterative: every group of two or more modules that import each other (via any path)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[frozenset[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.find_modules_directly_imported_by(nxt) & modules))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(frozenset(group))
    return groups


def own_modules(graph: grimp.ImportGraph) -> set[str]:
    return {m for m in graph.modules if m.split(".")[0] in ("services", "shared")}


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    g = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"), ("p.d", "p.e")]:
        g.add_import(importer=a, imported=b)
    assert strongly_connected(g, set(g.modules)) == [frozenset({"p.a", "p.b", "p.c"})]


def test_no_import_cycles_beyond_the_known_ones(graph: grimp.ImportGraph) -> None:
    found = set(strongly_connected(graph, own_modules(graph)))
    new = [sorted(c) for c in found - KNOWN_CYCLES.keys()]
    assert not new, f"import cycles: {new}"
    gone = [KNOWN_CYCLES[c] for c in KNOWN_CYCLES.keys() - found]
    assert not gone, f"fixed, remove from KNOWN_CYCLES: {gone}"


def test_the_gateway_bridge_and_its_http_face_do_not_import_each_other(graph: grimp.ImportGraph) -> None:
    assert graph.direct_import_exists(importer="services.gateway.bridge", imported="services.gateway.http")
    assert not graph.chain_exists(importer="services.gateway.http", imported="services.gateway.bridge")


def pure_modules(graph: grimp.ImportGraph) -> list[str]:
    mods = own_modules(graph)
    chosen = set()
    for pattern in PURE_MODULES:
        if "*" not in pattern:
            assert pattern in mods, f"{pattern} is listed as pure but does not exist"
            chosen.add(pattern)
            continue
        as_glob = pattern.replace("**", "\0").replace("*", "[!.]*").replace("\0", "*")
        chosen |= {m for m in mods if fnmatch.fnmatchcase(m, as_glob)}
    return sorted(chosen)


def test_pure_domain_modules_reach_no_io_library(graph: grimp.ImportGraph) -> None:
    pure = pure_modules(graph)
    assert len(pure) > len(PURE_MODULES)  # the patterns matched something
    reaching = {
        m: [lib for lib in IO_LIBRARIES if lib in graph.modules and graph.chain_exists(importer=m, imported=lib)]
        for m in pure
    }
    offending = {m: libs for m, libs in reaching.items() if libs}
    chains = {m: graph.find_shortest_chain(importer=m, imported=libs[0]) for m, libs in offending.items()}
    assert not offending, f"pure modules reaching I/O libraries (first chain shown): {chains}"


def test_the_io_check_sees_an_indirect_import(graph: grimp.ImportGraph) -> None:
    # The gateway's command line imports no HTTP client itself, only the bridge, which does.
    assert not graph.direct_import_exists(importer="services.gateway.cli", imported="httpx")
    assert graph.chain_exists(importer="services.gateway.cli", imported="httpx")
