"""Changchun ring expressway differential toll (长春绕城高速差异化收费), 2023-08-01 to 2024-07-31.

POLICY.md §8; source 001_2744dedfd50d42c2.txt (吉林省人民政府批复). The stations, the vehicle
class, the exit-time windows, the 50% ratio and the period in force are parameters in
``parameters/changchun/ring_expressway_toll.yaml``. The toll is
normal × 50% × (1 − ETC discount), computed exactly and rounded half-up once, to the fen.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from minsheng.core.calculation import Context, Field, calculation
from minsheng.core.errors import InputError
from minsheng.core.money import format_fen, format_ratio, mul_ratio

SOURCE = "001_2744dedfd50d42c2.txt"
PREFIX = "toll.ring_expressway"

# The toll stations of the ring expressway named in the approval: the input domain.
# Which of them get the discount is a parameter (青年路 is excluded there).
STATIONS = ("长春南", "净月", "长春东", "兴隆山", "远达大街", "长春北", "和平大街", "长春西",
            "汽车厂", "硅谷大街", "青年路")
STATION_CHOICES = tuple((name, f"{name}收费站") for name in STATIONS)
VEHICLE_KINDS = (("passenger", "载客汽车"), ("other", "其他车辆（货车、专项作业车等）"))


def _window(text: str) -> tuple[dt.time, dt.time]:
    """``"07:00-10:00"`` → (07:00, 10:00); a malformed window names the parameter."""
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise InputError(f"{PREFIX}.exit_time_windows",
                         f"时段应为 HH:MM-HH:MM 格式：{text!r}", "expected HH:MM-HH:MM") from None
    return start, end


def _hhmm(t: dt.time) -> str:
    return t.strftime("%H:%M")


def _failed_conditions(ctx: Context, day: dt.date, entry: str, exit_: str, exit_time: dt.datetime,
                       length: Fraction, seats: int, vehicle_kind: str) -> list[str]:
    """Every condition of the approval the trip fails, in Chinese (empty: all met)."""
    failed: list[str] = []
    stations: tuple[str, ...] = ctx.param(f"{PREFIX}.discount_stations", day)
    excluded: tuple[str, ...] = ctx.param(f"{PREFIX}.excluded_stations", day)
    for role, station in (("入口", entry), ("出口", exit_)):
        if station in excluded:
            failed.append(f"{role}{station}收费站被排除在差异化收费之外")
        elif station not in stations:
            failed.append(f"{role}{station}收费站不在适用的10个收费站之列")
    limit: Fraction = ctx.param(f"{PREFIX}.vehicle_length_below_m", day)
    max_seats: int = ctx.param(f"{PREFIX}.max_seats", day)
    if vehicle_kind != "passenger":
        failed.append("不是载客汽车，不属1类客车")
    if not length < limit:
        failed.append(f"车长{format_ratio(length)}米不小于{format_ratio(limit)}米，不属1类客车")
    if seats > max_seats:
        failed.append(f"核定载人数{seats}人大于{max_seats}人，不属1类客车")
    windows = [_window(w) for w in ctx.param(f"{PREFIX}.exit_time_windows", day)]
    clock = exit_time.time()
    if not any(start <= clock <= end for start, end in windows):
        spans = "、".join(f"{_hhmm(s)}–{_hhmm(e)}" for s, e in windows)
        failed.append(f"驶离出口时间{clock.isoformat()}不在适用时段（{spans}，两端含）内")
    return failed


@calculation(
    "ring_expressway_toll",
    title="长春绕城高速差异化收费",
    description="在长春南、净月等10个收费站间点对点通行的1类客车（车长小于6米且核定载人数不大于9人），"
                "驶离出口时间在7:00–10:00或16:00–19:00的，按正常通行费的50%收费，并与ETC优惠叠加；"
                "实施期2023年8月1日0时至2024年7月31日24时，以驶离出口的日期为准。",
    inputs=[
        Field("entry_station", "enum", "入口收费站", choices=STATION_CHOICES),
        Field("exit_station", "enum", "出口收费站", choices=STATION_CHOICES),
        Field("exit_time", "datetime", "驶离出口收费车道时间（北京时间）"),
        Field("vehicle_length_m", "number", "车长（米）", minimum=0),
        Field("seats", "integer", "核定载人数", minimum=1),
        Field("normal_toll", "money", "正常通行费（元）"),
        Field("etc", "bool", "是否使用ETC", required=False, default=False),
        Field("etc_discount", "ratio", "ETC优惠比例（如 0.05；使用ETC时必填）", required=False,
              maximum=1),
        Field("vehicle_kind", "enum", "车辆种类", required=False, default="passenger",
              choices=VEHICLE_KINDS),
    ],
    outputs=[
        Field("toll", "money", "应交通行费（元）"),
        Field("discount_applied", "bool", "是否按差异化收费"),
        Field("reason", "text", "说明"),
    ],
    default_region="220100",
    date_input="exit_time",
    sources=(SOURCE,),
)
def ring_expressway_toll(ctx: Context, entry_station: str, exit_station: str,
                         exit_time: dt.datetime, vehicle_length_m: Fraction, seats: int,
                         normal_toll: int, etc: bool, etc_discount: Fraction | None,
                         vehicle_kind: str) -> dict[str, Any]:
    if vehicle_length_m <= 0:
        raise InputError("vehicle_length_m", "车长应大于0", "vehicle length must be positive")
    if etc and etc_discount is None:
        raise InputError("etc_discount", "使用ETC时须给出ETC优惠比例（原文未印出，如 0.05）",
                         "etc_discount is required when etc is true")
    day = exit_time.date()
    if day != ctx.date:
        ctx.rule("date", f"以驶离出口收费车道的日期 {day.isoformat()} 为准（而不是所给日期 "
                         f"{ctx.date.isoformat()}）")
    period = ctx.resolve(f"{PREFIX}.differential_pricing_in_force", day)
    failed: list[str]
    if period.value:
        failed = _failed_conditions(ctx, day, entry_station, exit_station, exit_time,
                                    vehicle_length_m, seats, vehicle_kind)
    elif period.override:
        failed = ["按本次假设值，差异化收费政策不在实施期内"]
    elif period.end is not None:
        begins = period.end + dt.timedelta(days=1)
        failed = [f"差异化收费政策自{begins.isoformat()} 0时起实施，{day.isoformat()}不在实施期内"]
    else:
        assert period.start is not None
        ended = period.start - dt.timedelta(days=1)
        failed = [f"差异化收费政策实施期限至{ended.isoformat()} 24时止，{day.isoformat()}"
                  f"不在实施期内（未见延期文件）"]
    applied = not failed
    factor = Fraction(1)
    formula = f"正常通行费 {format_fen(normal_toll)}"
    if applied:
        ratio: Fraction = ctx.param(f"{PREFIX}.toll_ratio", day)
        factor *= ratio
        formula += f" × {format_ratio(ratio)}"
        reason = (f"{entry_station}—{exit_station}，1类客车，驶离出口时间"
                  f"{exit_time.time().isoformat()}在适用时段内：按正常通行费的"
                  f"{format_ratio(ratio * 100)}%收费")
    else:
        reason = "；".join(failed) + "：按正常通行费收费"
    if etc:
        assert etc_discount is not None
        stacks = not applied or bool(ctx.param(f"{PREFIX}.stacks_with_etc", day))
        if stacks:
            factor *= 1 - etc_discount
            formula += f" × (1 − ETC优惠 {format_ratio(etc_discount)})"
            percent = format_ratio(etc_discount * 100)
            reason += f"，并叠加ETC优惠{percent}%" if applied else f"，享受ETC优惠{percent}%"
    elif etc_discount is not None:
        ctx.rule("etc", "未使用ETC，不计ETC优惠")
    toll = ctx.compute("toll", "应交通行费", "money", mul_ratio(normal_toll, factor),
                       formula + "，最后一次四舍五入到分")
    ctx.rule("discount_applied", reason)
    return {"toll": toll, "discount_applied": applied, "reason": reason}
