"""Errors a user can act on: each says where, what was expected, what was found, and the fix."""

from __future__ import annotations

from dataclasses import dataclass


class DiffdagError(Exception):
    """Base of the errors diffdag reports to users; the command line prints them without a traceback."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a graph: what is wrong, where, and how to fix it."""

    message: str
    fix: str = ""
    where: tuple[str, ...] = ()  # the nodes, parameters or samples involved

    def __str__(self) -> str:
        return self.message + (f"\n     fix: {self.fix}" if self.fix else "")


class GraphError(DiffdagError):
    """Every problem found while validating a graph, reported together."""

    def __init__(self, graph_name: str, problems: list[Problem]):
        self.graph_name = graph_name
        self.problems = list(problems)
        count = len(self.problems)
        lines = [f"graph {graph_name!r} has {count} problem{'s' if count != 1 else ''}:"]
        lines += [f"  {i}. {problem}" for i, problem in enumerate(self.problems, 1)]
        super().__init__("\n".join(lines))


class DataError(DiffdagError):
    """Data given to a program does not match the samples and fields the graph declares."""
