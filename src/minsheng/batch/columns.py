"""The column names and the schema the engines share.

Columns are named as in SETTLEMENT.md: the claims' and persons' columns, the outputs' money
and cap-room columns. A validated claim becomes a *prepared* row: integer fen, the
settlement time as seconds since 1970-01-01 (China time, no zone), and the person's index in
the persons file (:data:`PREPARED_SCHEMA`). The local and the Spark engine both settle
prepared rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from minsheng.batch.arrow_buffers import numpy_of

AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "overlmt_selfpay")
CLAIM_COLUMNS = ("setl_id", "psn_no", "setl_time", "med_type", "hosp_lv", "in_province", *AMOUNTS)
PERSON_COLUMNS = ("psn_no", "insutype", "region", "categories")
OUTPUT_MONEY = ("inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay", "fund_pay_sumamt",
                "psn_part_amt", "act_pay_dedc")
CAP_ROOMS = ("basic_cap_left", "critical_cap_left", "assistance_cap_left")
"""Cap room left after each claim per fund (``crt_payb_lmt_amt``); empty where no cap applies."""
PERSON_YEAR_MONEY = ("medfee_sumamt", "inscp_scp_amt", "hifp_pay", "hifmi_pay", "maf_pay",
                     "fund_pay_sumamt", "psn_part_amt")
SECONDS_PER_DAY = 86_400

PREPARED_SCHEMA = pa.schema([
    ("pidx", pa.int64()), ("t", pa.int64()), ("setl_id", pa.string()),
    ("med_type", pa.int8()), ("hosp_lv", pa.int8()), ("in_province", pa.bool_()),
    *((name, pa.int64()) for name in AMOUNTS),
])
"""A validated claim: ``pidx`` the person's index in the persons file, ``t`` the settlement
time in seconds since 1970-01-01 (China time). (Its data row number is not kept: only the
checks report it, and they are done when a row is prepared.)"""

SETL_ID_WIDTH = b"minsheng.setl_id_width"
"""Schema metadata of spilled rows whose ``setl_id`` are words (:func:`spilled_schema`)."""


def spilled_schema(width: int) -> pa.Schema:
    """Prepared rows as the local engine spills them: :data:`PREPARED_SCHEMA`, or, when every
    ``setl_id`` is ``width`` bytes long (``width`` > 0), with ``setl_id`` as its 64-bit words
    in columns ``setl_id.0``, ``setl_id.1`` … (:mod:`minsheng.batch.fixed_texts`)."""
    if not width:
        return PREPARED_SCHEMA
    return pa.schema([*(f for f in PREPARED_SCHEMA if f.name != "setl_id"),
                      *(pa.field(name, pa.uint64()) for name in setl_id_words(width))],
                     metadata={SETL_ID_WIDTH: str(width).encode()})


def setl_id_words(width: int) -> list[str]:
    """The columns of the words of ``setl_id`` texts ``width`` bytes long."""
    return [f"setl_id.{j}" for j in range((width + 7) // 8)]


def spilled_width(schema: pa.Schema) -> int:
    """The ``setl_id`` width of spilled rows in words (:func:`spilled_schema`), else 0."""
    return int((schema.metadata or {}).get(SETL_ID_WIDTH, 0))


def spilled_words(table: pa.Table) -> tuple[int, list[npt.NDArray[np.generic]]]:
    """The ``setl_id`` width of spilled rows and their word columns (as numpy arrays); 0 and
    none when ``setl_id`` is spilled as texts."""
    width = spilled_width(table.schema)
    return width, [numpy_of(table.column(name)) for name in setl_id_words(width)]
