"""Bad input to `ring_expressway_toll` is an error naming the field (POLICY.md §8)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from minsheng.cli import app
from minsheng.core.calculation import run
from minsheng.core.errors import InputError

TRIP = {"entry_station": "长春南", "exit_station": "净月", "exit_time": "2023-08-10T07:30",
        "vehicle_length_m": "4.8", "seats": 5, "normal_toll": "7.35"}


def toll(**changes: Any) -> Any:
    inputs = {k: v for k, v in (TRIP | changes).items() if v is not None}
    return run("ring_expressway_toll", date=None, region=None, inputs=inputs)


@pytest.mark.parametrize(("changes", "field"), [
    ({"entry_station": "长春站"}, "entry_station"),
    ({"exit_station": "Jingyue"}, "exit_station"),
    ({"normal_toll": "-7.35"}, "normal_toll"),
    ({"normal_toll": "7.355"}, "normal_toll"),
    ({"normal_toll": None}, "normal_toll"),
    ({"exit_time": "2023-08-10 25:00"}, "exit_time"),
    ({"exit_time": "2023-08-10T07:30+08:00"}, "exit_time"),
    ({"vehicle_length_m": "-4.8"}, "vehicle_length_m"),
    ({"vehicle_length_m": "0"}, "vehicle_length_m"),
    ({"seats": 0}, "seats"),
    ({"seats": "five"}, "seats"),
    ({"etc": "maybe"}, "etc"),
    ({"etc": True}, "etc_discount"),
    ({"etc": True, "etc_discount": "1.5"}, "etc_discount"),
    ({"etc": True, "etc_discount": "-0.05"}, "etc_discount"),
    ({"vehicle_kind": "bus"}, "vehicle_kind"),
])
def test_a_bad_toll_input_is_an_error_naming_its_field(changes: dict[str, Any],
                                                       field: str) -> None:
    with pytest.raises(InputError) as caught:
        toll(**changes)
    assert caught.value.field == field


def test_date_and_region_come_from_the_exit_time_and_changchun_when_omitted() -> None:
    result = toll()
    assert (result.date.isoformat(), result.region.code) == ("2023-08-10", "220100")
    assert result.to_json()["outputs"]["toll"] == "3.68"


runner = CliRunner()


def invoke(*sets: str) -> Any:
    return runner.invoke(app, ["calc", "ring_expressway_toll", "--json",
                               *[a for s in sets for a in ("--set", s)]])


def test_the_command_line_charges_3_68_for_the_acceptance_trip_without_date_or_region() -> None:
    done = invoke("entry_station=长春南", "exit_station=净月", "exit_time=2023-08-10T07:30",
                  "vehicle_length_m=4.8", "seats=5", "normal_toll=7.35")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {
        "toll": "3.68", "discount_applied": True,
        "reason": "长春南—净月，1类客车，驶离出口时间07:30:00在适用时段内：按正常通行费的50%收费"}


def test_the_command_line_charges_4_75_with_etc_at_five_pm() -> None:
    done = invoke("entry_station=长春南", "exit_station=净月", "exit_time=2023-08-10T17:00",
                  "vehicle_length_m=4.8", "seats=5", "normal_toll=10.00", "etc=true",
                  "etc_discount=0.05")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"]["toll"] == "4.75"


def test_an_unknown_station_on_the_command_line_exits_2_naming_the_field() -> None:
    done = invoke("entry_station=长春站", "exit_station=净月", "exit_time=2023-08-10T07:30",
                  "vehicle_length_m=4.8", "seats=5", "normal_toll=7.35")
    assert done.exit_code == 2
    assert "entry_station" in done.stderr and "Traceback" not in done.output


def test_a_negative_toll_on_the_command_line_exits_2_naming_the_field() -> None:
    done = invoke("entry_station=长春南", "exit_station=净月", "exit_time=2023-08-10T07:30",
                  "vehicle_length_m=4.8", "seats=5", "normal_toll=-7.35")
    assert done.exit_code == 2
    assert "normal_toll" in done.stderr
