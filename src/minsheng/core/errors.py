"""Errors that users read: Chinese first, English beside it, always naming what is wrong."""

from __future__ import annotations

from typing import Any


class MinshengError(Exception):
    """Base of every error minsheng reports to a user (never shown as a traceback)."""

    status = 422
    kind = "error"

    def __init__(self, message: str, message_en: str = "", **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.message_en = message_en
        self.details = details

    def __str__(self) -> str:
        return f"{self.message} ({self.message_en})" if self.message_en else self.message

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.kind, "message": self.message}
        if self.message_en:
            body["message_en"] = self.message_en
        body.update({k: v for k, v in self.details.items() if v is not None})
        return body


class InputError(MinshengError):
    """Bad input: the field is named."""

    kind = "invalid_input"

    def __init__(self, field: str, message: str, message_en: str = "") -> None:
        super().__init__(f"{field}：{message}", f"{field}: {message_en}" if message_en else "",
                         field=field)
        self.field = field


class NotFound(MinshengError):
    """An unknown name: a calculation, a person, a settlement."""

    status = 404
    kind = "not_found"


class Conflict(MinshengError):
    status = 409
    kind = "conflict"


class ParameterMissing(MinshengError):
    """No value is encoded for this parameter in this region on this date."""

    kind = "parameter_missing"

    def __init__(self, name: str, region: str, date: str) -> None:
        super().__init__(
            f"参数 {name} 在地区 {region}、日期 {date} 没有已编码的取值",
            f"no value of parameter {name} is encoded for region {region} on {date}",
            parameter=name, region=region, date=date,
        )
        self.name = name


class ParameterFileError(MinshengError):
    """A parameter file breaks the schema: the file and key are named."""

    kind = "parameter_file"

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"参数文件 {file} 的 {key}：{message}", "", file=file, key=key)
        self.file = file
        self.key = key
