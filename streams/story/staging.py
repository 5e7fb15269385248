"""The desk's writes for a batch of articles, held back and then written once per key, in phases.

The worker places a batch of articles in memory and writes what they changed together: one write per key
per batch (a story that gets three articles in a batch is written once), in three phases (`PHASES`), each
confirmed by the broker before the next is written: the article records first, then the windows (the live
profiles and the fingerprints), then the log position they were written up to. Whatever a crash cuts, a
stored position then still says that the windows count every article up to it, and an article whose record
is stored is recognised when it comes again, which is what the desk's healing relies on
(streams/story/desk.py). A crash can also cut a phase part way, each store's changelog at its own point:
within a store, removals are written after values, so a removal stored says its batch's values are too, and
the rows saying which story absorbed which before the other values, so a profile stored from a batch says
every merge of the batch is stored too.

Until a batch's writes are in the stores, the desk reads them from here: `Staging.stores` are views that
read the open batch first, then the batches sealed but not yet written (newest first), then the stores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping

from streams.story.desk import ABSORBED, DeskStores

DELETED = object()  # a staged removal
_NOT_STAGED = object()


class Deferred:
    """A staged value kept as the function that makes it, made when its batch is sealed (`StagedStore.set_later`)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


def _made(value):
    return value.make() if isinstance(value, Deferred) else value

# The position (meta) has a phase of its own: written with the windows, a crash could store it without the
# live profiles it vouches for, and a desk rebuilt from the changelogs would take articles for counted that
# its profiles lack.
PHASES = (("articles",), ("fingerprints", "live"), ("meta",))

# Articles placed ahead of the broker at most (a batch on a busy stream): bounds the memory a batch holds and the
# work a crash redoes.
MAX_BATCH = 500

Writes = dict[str, dict]  # store name -> key -> value, or DELETED


def _no_writes() -> Writes:
    return {name: {} for phase in PHASES for name in phase}


class StagedStore(MutableMapping):
    """One store as the desk sees it: its staged writes over what the store holds."""

    def __init__(self, staging: Staging, name: str) -> None:
        self.staging, self.name = staging, name
        self.store = getattr(staging.stores_below, name)

    def _staged(self, key):
        for writes in self.staging.layers():
            layer = writes[self.name]
            if key in layer:
                return layer[key]
        return _NOT_STAGED

    def __getitem__(self, key):
        value = self._staged(key)
        if value is DELETED:
            raise KeyError(key)
        return self.store[key] if value is _NOT_STAGED else _made(value)

    def get(self, key, default=None):
        value = self._staged(key)
        if value is DELETED:
            return default
        return self.store.get(key, default) if value is _NOT_STAGED else _made(value)

    def __contains__(self, key) -> bool:
        """Without reading a stored value (Mapping's own test reads it, and a table decodes what it reads)."""
        value = self._staged(key)
        return key in self.store if value is _NOT_STAGED else value is not DELETED

    def __setitem__(self, key, value) -> None:
        self.staging.open[self.name][key] = value

    def set_later(self, key, make: Callable[[], object]) -> None:
        """Stage `make()` as the key's value, made when the batch is sealed: once per batch, however many of its
        articles changed the key (a story's state and profile are written on each article it gains, and making
        their rows was a tenth of placing). `make` must read only what changes through a later staging of the
        same key in the batch, or not at all (streams/story/desk.py: `put`)."""
        self.staging.open[self.name][key] = Deferred(make)

    def __delitem__(self, key) -> None:
        """Stages the removal even of a key the store lacks: a crash may have kept its removal from the
        changelog while the local store made it, and a table sends the removal again (ConfirmedTable.write_locally)."""
        self.staging.open[self.name][key] = DELETED

    def __iter__(self) -> Iterator:
        keys = dict.fromkeys(self.store)
        for writes in reversed(list(self.staging.layers())):  # oldest first, so later writes win
            for key, value in writes[self.name].items():
                if value is DELETED:
                    keys.pop(key, None)
                else:
                    keys[key] = None
        return iter(keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Staging:
    """Batches of desk writes: the open one, which placing adds to, and those sealed for writing."""

    def __init__(self, stores: DeskStores) -> None:
        self.stores_below = stores
        self.open: Writes = _no_writes()
        self.sealed: list[Writes] = []  # oldest first
        self.stores = DeskStores(**{name: StagedStore(self, name) for name in self.open})

    def layers(self) -> Iterator[Writes]:
        """The staged writes, newest first."""
        yield self.open
        yield from reversed(self.sealed)

    def seal(self) -> Writes:
        """Close the open batch: its writes are to be written (`phases`), its deferred values made, and a new batch
        opens."""
        sealed, self.open = self.open, _no_writes()
        for writes in sealed.values():
            for key, value in writes.items():
                if isinstance(value, Deferred):
                    writes[key] = value.make()
        self.sealed.append(sealed)
        return sealed

    def discard_open(self) -> None:
        """Forget the open batch's writes (placing failed part way: its articles are placed again)."""
        self.open = _no_writes()

    def phases(self, sealed: Writes) -> list[list[tuple[MutableMapping, object, object]]]:
        """A sealed batch's writes as (store, key, value or DELETED), phase by phase; within a store, its removals
        after its values. A store's changelog is one partition, which keeps order: a removal on the broker says
        the values written with it are there too (a story absorbed is removed only once its survivor is stored)."""
        order = keys_in_order(sealed)
        return [
            [(getattr(self.stores_below, name), key, sealed[name][key]) for name in phase for key in order.get(name, ())]
            for phase in PHASES
        ]

    def again(self, keys: dict[str, list]) -> Writes:
        """The writes of `keys` (store name -> keys) made again, each with what the store holds now (its removal if
        nothing), as a batch to write by `phases` (its removals after its values): to send a changelog what its
        local store holds (streams/worker/journal.py)."""
        writes = _no_writes()
        for name, store_keys in keys.items():
            store = getattr(self.stores_below, name)
            writes[name] = {key: store.get(key, DELETED) for key in store_keys}
        return writes

    def written(self, sealed: Writes) -> None:
        """A sealed batch is in the stores: reads go to them again."""
        self.sealed = [batch for batch in self.sealed if batch is not sealed]


def keys_in_order(sealed: Writes) -> dict[str, list]:
    """Each store's keys in the order a sealed batch writes them (so its changelog's order): the rows saying
    which story absorbed which (desk.ABSORBED), then the other values, then removals."""
    return {name: sorted(writes, key=lambda key: _write_rank(key, writes[key])) for name, writes in sealed.items()}


def _write_rank(key, value) -> int:
    """0 for a row saying where an absorbed story went, 1 for another value, 2 for a removal (a stable sort keeps
    the staged order within each)."""
    if value is DELETED:
        return 2
    return 0 if isinstance(key, str) and key.startswith(ABSORBED) else 1


def write(phase: list[tuple[MutableMapping, object, object]]) -> None:
    """Write one phase of a sealed batch to the stores, each store's writes in their order. A store that takes
    them all at once (`write_all`: a RocksDB write batch, as the worker's tables write a phase) gets them so;
    key by key, RocksDB appends to its log once per key."""
    by_store: dict[int, tuple[MutableMapping, list[tuple[object, object]]]] = {}
    for store, key, value in phase:
        by_store.setdefault(id(store), (store, []))[1].append((key, value))
    for store, writes in by_store.values():
        if hasattr(store, "write_all"):
            store.write_all(writes)
            continue
        for key, value in writes:
            if value is DELETED:
                store.pop(key, None)
            else:
                store[key] = value


def write_open_batch(staging: Staging) -> None:
    """Seal the open batch and write it, phase by phase, with no broker to wait for (in-process tools)."""
    sealed = staging.seal()
    for phase in staging.phases(sealed):
        write(phase)
    staging.written(sealed)
