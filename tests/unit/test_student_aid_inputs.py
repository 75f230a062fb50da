"""Bad input to `student_aid` and `student_loan` is an error naming the field (POLICY.md §7)."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from minsheng.cli import app
from minsheng.core.calculation import run
from minsheng.core.errors import InputError


def aid(**inputs: Any) -> Any:
    return run("student_aid", date="2021-09-01", region="220102", inputs=inputs)


def field_of(caught: pytest.ExceptionInfo[InputError]) -> str:
    return caught.value.field


@pytest.mark.parametrize(("inputs", "field"), [
    ({"program": "scholarship"}, "program"),
    ({}, "program"),
    ({"program": "disabled_student", "level": "kindergarten"}, "level"),
    ({"program": "college_entrance", "categories": ["富裕家庭"]}, "categories[0]"),
    ({"program": "union_hardship", "hardship": "deep", "level": "high_school",
      "min_living_standard": "-650"}, "min_living_standard"),
    ({"program": "union_hardship", "hardship": "deep", "level": "high_school",
      "min_living_standard": "650.001"}, "min_living_standard"),
    ({"program": "union_hardship", "hardship": "extreme", "level": "high_school",
      "min_living_standard": "650"}, "hardship"),
    ({"program": "disabled_student", "level": "high_school", "enrollment_status": "graduated"},
     "enrollment_status"),
    ({"program": "disabled_student"}, "level"),
    ({"program": "college_entrance", "grade": "A"}, "grade"),
])
def test_a_bad_student_aid_input_is_an_error_naming_its_field(inputs: dict[str, Any],
                                                              field: str) -> None:
    with pytest.raises(InputError) as caught:
        aid(**inputs)
    assert field_of(caught) == field


def test_an_error_message_reads_chinese_first_then_english() -> None:
    with pytest.raises(InputError) as caught:
        aid(program="scholarship")
    assert caught.value.message.startswith("program：取值")
    assert caught.value.message_en.startswith("program: ")


def test_university_is_too_vague_for_disabled_student_aid_and_the_message_says_which_to_pick(
) -> None:
    with pytest.raises(InputError) as caught:
        aid(program="disabled_student", level="university")
    assert "undergraduate" in caught.value.message and "junior_college" in caught.value.message


@pytest.mark.parametrize(("inputs", "field"), [
    ({"level": "doctorate"}, "level"),
    ({"level": "undergraduate", "lpr": "-0.01"}, "lpr"),
    ({"level": "undergraduate", "lpr": "abc"}, "lpr"),
])
def test_a_bad_student_loan_input_is_an_error_naming_its_field(inputs: dict[str, Any],
                                                               field: str) -> None:
    with pytest.raises(InputError) as caught:
        run("student_loan", date="2021-09-01", region=None, inputs=inputs)
    assert field_of(caught) == field


runner = CliRunner()


def test_the_command_line_gives_10000_for_a_nanguan_minimum_allowance_student() -> None:
    done = runner.invoke(app, ["calc", "student_aid", "--date", "2021-09-01", "--region",
                               "220102", "--set", "program=college_entrance",
                               "--set", "categories=低保对象", "--json"])
    assert done.exit_code == 0, done.output
    assert '"amount": "10000.00"' in done.stdout


def test_an_unknown_program_on_the_command_line_exits_2_naming_the_field() -> None:
    done = runner.invoke(app, ["calc", "student_aid", "--date", "2021-09-01", "--region",
                               "220102", "--set", "program=scholarship"])
    assert done.exit_code == 2
    assert "program" in done.stderr and "Traceback" not in done.output


def test_an_unknown_level_on_the_command_line_exits_2_naming_the_field() -> None:
    done = runner.invoke(app, ["calc", "student_aid", "--date", "2021-09-01", "--region",
                               "220102", "--set", "program=poverty_registered",
                               "--set", "level=博士后"])
    assert done.exit_code == 2
    assert "level" in done.stderr
