"""Types of the compiled formatter (``_money.c``; see :mod:`minsheng.batch.money_text`)."""

from typing import Any

def fen_texts(fen: Any, absent: Any | None, /) -> tuple[bytes, bytes]: ...
