"""Which benefit an outpatient visit settles under (001 measures 15, 16) and which filing
covers a visit outside the insured place (001 measures 4, 6), on fakes of the stored rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from minsheng.service.casework.filings import filing_status, in_force
from minsheng.service.casework.priority import choose, recognised_disease, valid_on

D = dt.date
SEPTEMBER_1 = dt.date(2023, 9, 1)


@dataclass
class FakeRecognition:
    id: str
    kind: str
    disease: str
    drug: str | None = None
    status: str = "approved"
    valid_from: dt.date | None = SEPTEMBER_1
    valid_to: dt.date | None = None


@dataclass
class FakePerson:
    insutype: str = "390"
    region: str = "220102"


@dataclass
class FakeFiling:
    id: str
    filed_at: dt.datetime
    status: str = "active"
    ended_at: dt.datetime | None = None
    valid_to: dt.date | None = None
    insutype_at_filing: str = "390"
    region_at_filing: str = "220102"


def test_a_recognition_is_valid_from_its_first_to_its_last_day_inclusive() -> None:
    r = FakeRecognition("R1", "chronic_disease", "diabetes", valid_to=D(2023, 9, 30))
    assert [valid_on(r, D(2023, 9, d)) for d in (1, 30)] == [True, True]
    assert not valid_on(r, D(2023, 8, 31)) and not valid_on(r, D(2023, 10, 1))
    assert not valid_on(FakeRecognition("R2", "chronic_disease", "diabetes",
                                        status="submitted", valid_from=None), D(2023, 9, 5))
    revoked = FakeRecognition("R3", "chronic_disease", "diabetes", status="revoked",
                              valid_to=D(2023, 9, 9))
    assert valid_on(revoked, D(2023, 9, 9)) and not valid_on(revoked, D(2023, 9, 10))


def test_an_outpatient_visit_of_a_recognised_disease_settles_as_chronic() -> None:
    recs = [FakeRecognition("R1", "chronic_disease", "diabetes")]
    c = choose(recs, D(2023, 9, 10))
    assert (c.as_chronic, c.rule, c.recognition_id) == (True, "chronic_priority", "R1")
    assert choose(recs, D(2023, 9, 10), disease="糖尿病").as_chronic
    other = choose(recs, D(2023, 9, 10), disease="高血压")
    assert not other.as_chronic and "高血压" in other.reason
    assert choose(recs, D(2023, 8, 31)) == choose([], D(2023, 8, 31))
    assert recognised_disease(recs, D(2023, 9, 10)) == "diabetes"
    assert recognised_disease(recs, D(2023, 8, 1)) is None


def test_dual_channel_drugs_settle_as_special_disease_only_with_the_same_disease() -> None:
    drug = FakeRecognition("R2", "dual_channel_drug", "diabetes", drug="司美格鲁肽注射液")
    best = choose([FakeRecognition("R1", "chronic_disease", "糖尿病"), drug], D(2023, 9, 10),
                  drug="司美格鲁肽注射液 ")
    assert (best.as_chronic, best.rule, best.recognition_id) == (True, "best_benefit", "R1")
    other_disease = choose([FakeRecognition("R1", "chronic_disease", "hypertension"), drug],
                           D(2023, 9, 10), drug="司美格鲁肽注射液")
    assert not other_disease.as_chronic and "没有相同病种" in other_disease.reason
    unfiled = choose([FakeRecognition("R1", "chronic_disease", "diabetes")], D(2023, 9, 10),
                     drug="另一种药")
    assert not unfiled.as_chronic and "没有双通道药品" in unfiled.reason


def test_the_filing_in_force_at_discharge_gives_a_direct_settlement() -> None:
    person = FakePerson()
    discharge = dt.datetime(2023, 9, 10, 10)
    before = FakeFiling("F1", dt.datetime(2023, 9, 1))
    assert filing_status([before], person, discharge).filing == "before_discharge"
    late = FakeFiling("F2", dt.datetime(2023, 9, 12))
    status = filing_status([late], person, discharge)
    assert (status.filing, status.filing_id) == ("after_discharge", "F2")
    assert filing_status([], person, discharge).filing == "none"
    cancelled = FakeFiling("F3", dt.datetime(2023, 9, 1), status="cancelled")
    assert filing_status([cancelled], person, discharge).filing == "none"


def test_a_filing_stops_at_its_change_its_end_date_or_a_change_of_insurance_status() -> None:
    person = FakePerson()
    changed = FakeFiling("F1", dt.datetime(2023, 9, 1), status="changed",
                         ended_at=dt.datetime(2023, 9, 10, 10))
    assert in_force(changed, person, dt.datetime(2023, 9, 10, 9, 59))
    assert not in_force(changed, person, dt.datetime(2023, 9, 10, 10))
    referred = FakeFiling("F2", dt.datetime(2023, 9, 1), valid_to=D(2023, 9, 30))
    assert in_force(referred, person, dt.datetime(2023, 9, 30, 23))
    assert not in_force(referred, person, dt.datetime(2023, 10, 1))
    open_ended = FakeFiling("F3", dt.datetime(2023, 9, 1))
    assert in_force(open_ended, person, dt.datetime(2030, 1, 1))
    assert not in_force(open_ended, FakePerson(insutype="310"),
                        dt.datetime(2023, 9, 5))
    assert not in_force(open_ended, FakePerson(region="222401"),
                        dt.datetime(2023, 9, 5))
