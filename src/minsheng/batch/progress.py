"""The progress of a batch job, as every engine reports it (the CLI draws it with Rich)."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Progress of a batch job (the CLI shows it as a Rich progress bar on stderr)."""

    def phase(self, description: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None: ...


class NullReporter:
    def phase(self, description: str, total: int | None) -> None:
        pass

    def advance(self, n: int) -> None:
        pass
