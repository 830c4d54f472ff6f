"""The one shape every resource in streamsee has (models, sources, sinks): a context manager
whose close() releases it and is safe to call twice."""

from __future__ import annotations

from typing import Self


class Resource:
    """Subclasses implement close(); `with` calls it on every exit path."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
