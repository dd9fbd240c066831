"""A mapping that forgets its least recently used items past a count or a size.

Everything the bot remembers about chat (which reply answered whom, which events
were answered, whose message a reply points at, texts already encoded) grows with
chat, and chat is unbounded and can be hostile. Each such memory is one of these,
with limits that say how much it may hold.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable, Hashable, ItemsView, Iterator, MutableMapping, ValuesView
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def approximate_size(key: object, value: object) -> int:
    """Bytes an item keeps alive, roughly (what `sys.getsizeof` sees, not deep)."""
    return sys.getsizeof(key) + sys.getsizeof(value)


class BoundedDict(MutableMapping[K, V], Generic[K, V]):
    """At most `max_items` items and, when `max_bytes` is set, about that many bytes.

    Reading an item makes it recent; adding one past a limit drops the oldest.
    An item bigger than `max_bytes` on its own is not kept at all."""

    def __init__(
        self,
        max_items: int,
        max_bytes: int | None = None,
        size_of: Callable[[K, V], int] = approximate_size,
    ) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[K, V] = OrderedDict()
        self._sizes: dict[K, int] = {}
        self.bytes = 0

    def __getitem__(self, key: K) -> V:
        value = self._items[key]
        self._items.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        if key in self._items:
            del self[key]
        size = self._size_of(key, value) if self.max_bytes is not None else 0
        if self.max_bytes is not None and size > self.max_bytes:
            return
        self._items[key] = value
        self._sizes[key] = size
        self.bytes += size
        while len(self._items) > self.max_items or (self.max_bytes is not None and self.bytes > self.max_bytes):
            oldest, _ = self._items.popitem(last=False)
            self.bytes -= self._sizes.pop(oldest)

    def __delitem__(self, key: K) -> None:
        del self._items[key]
        self.bytes -= self._sizes.pop(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items  # a membership test does not make an item recent

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def items(self) -> ItemsView[K, V]:
        """Every item, oldest first; reading them all makes none recent (and can be done while
        iterating: the mixin's view reads each through `__getitem__`, which reorders)."""
        return self._items.items()

    def values(self) -> ValuesView[V]:
        return self._items.values()

    def __len__(self) -> int:
        return len(self._items)
