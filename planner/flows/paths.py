"""The rows of the all-origins search: ``reaches`` dicts shared between rows, lazy path trees.

One job: turn the bit sets of :mod:`planner.flows.all_origins` into each row's ``reaches`` and
``paths`` only when they are read. A national estate's matrix holds millions of chains and most
callers only count holders, so ``Flow.paths`` of a matrix row is a :class:`LazyPaths`, a real dict
filled from the shared trees the first time it is read. Complexity: the first read of any row's
paths builds every origin's parent table in one pass over the trees (O(N x origins) C-speed bit
searches), then each row's paths are O(N); a row's ``reaches`` is one C-speed copy when its
holders equal a recent row's, O(N) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress
from typing import Any

from planner.misp import Distribution


class Rows:
    """The ``reaches`` dicts of level-`all` rows. Origins in one connected part of an estate mostly
    reach the same instances (on the synthetic 2,000-instance estate, 1,600 rows share one holder
    set), so a row whose holders equal a recent row's gets a copy of that row's dict: a copy of the
    table in C, instead of one insertion per holder."""

    KEPT = 4  # recent holder sets kept (each a dict of up to all instances)

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.recent: dict[tuple[int, ...], dict[str, Distribution]] = {}

    def reaches(self, column: tuple[int, ...]) -> dict[str, Distribution]:
        """Instance -> level `all` for the instances whose entry in ``column`` is 1, in id order."""
        made = self.recent.get(column)
        if made is None:
            if len(self.recent) >= self.KEPT:
                del self.recent[next(iter(self.recent))]
            made = self.recent[column] = dict.fromkeys(compress(self.names, column), Distribution.ALL)
        return made.copy()


class Trees:
    """Every origin's breadth-first tree from the all-origins search, as bit sets over origins."""

    def __init__(self, names: list[str], via: list[list[tuple[int, int, int]]],
                 delivering: list[tuple[int, int, int]], starts: list[int]) -> None:
        self.names = names
        self.via = via  # per instance: (parent, bit set of the origins it passed on, hops)
        self.delivering = delivering  # unpublished copies: (source, target, bit set of origins), sorted
        self.starts = starts
        self._parents: list[list[int]] | None = None

    def parents(self) -> list[list[int]]:
        """parents[origin][instance]: the instance it got the published copy from (-1: none). Made for
        all origins in one pass over the trees the first time one origin's paths are read: a reader
        of one matrix row's paths usually reads them all (JSON output, reports)."""
        if self._parents is None:
            size = len(self.names)
            table = [[-1] * size for _ in self.starts]
            for v, entries in enumerate(self.via):
                for parent, passed, _ in entries:
                    text = bin(passed)  # the set bits, found by C-speed searches in the binary text
                    last = len(text) - 1
                    j = text.rfind("1")
                    while j > 1:
                        table[last - j][v] = parent
                        j = text.rfind("1", 2, j)
            self._parents = table
        return self._parents


@dataclass(frozen=True)
class TreePaths:
    """One origin's chains in the shared trees."""

    trees: Trees
    bit: int  # the origin's position in the bit sets

    def build(self) -> dict[str, tuple[str, ...]]:
        trees, mine = self.trees, 1 << self.bit
        names, parent, start = trees.names, trees.parents()[self.bit], trees.starts[self.bit]
        chains: dict[int, tuple[str, ...]] = {start: (names[start],)}
        for k in range(len(names)):
            if k in chains or parent[k] < 0:
                continue
            walk = []
            while k not in chains:
                walk.append(k)
                k = parent[k]
            done = chains[k]
            for step in reversed(walk):
                done = chains[step] = (*done, names[step])
        unpublished: dict[int, tuple[str, ...]] = {}
        for u, v, sending in trees.delivering:
            if sending & mine:
                old = unpublished.get(v)
                if old is None or len(chains[u]) + 1 < len(old):
                    unpublished[v] = (*chains[u], names[v])
        for k, held_chain in unpublished.items():
            if k not in chains or len(held_chain) < len(chains[k]):
                chains[k] = held_chain  # fewer hops; on a tie the published copy wins
        return {names[k]: chains[k] for k in sorted(chains) if k != start}


class LazyPaths(dict[str, tuple[str, ...]]):
    """``Flow.paths`` of a matrix row: a real dict, filled from the shared trees the first time it is
    read (a matrix holds millions of chains, and most callers only count holders)."""

    __slots__ = ("_source",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # as dict(...), for copies (e.g. dataclasses.asdict)
        self._source: TreePaths | None = None

    @classmethod
    def of(cls, source: TreePaths) -> LazyPaths:
        paths = cls()
        paths._source = source
        return paths

    def _fill(self) -> None:
        if self._source is not None:
            from planner.pipeline import no_cycle_collection

            source, self._source = self._source, None
            with no_cycle_collection():  # thousands of new tuples, no reference cycle among them
                dict.update(self, source.build())


def _filled(name: str) -> Any:
    method = getattr(dict, name)

    def call(self: LazyPaths, *args: Any, **kwargs: Any) -> Any:
        self._fill()
        return method(self, *args, **kwargs)

    call.__name__ = name
    return call


for _name in ("__getitem__", "__contains__", "__iter__", "__len__", "__eq__", "__ne__", "__repr__", "__reversed__",
              "__or__", "__ror__", "__ior__", "__setitem__", "__delitem__", "get", "keys", "values", "items",
              "copy", "pop", "popitem", "setdefault", "update", "clear", "__reduce_ex__", "__sizeof__"):
    setattr(LazyPaths, _name, _filled(_name))
