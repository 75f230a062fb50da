"""The column names and the schema the engines share.

Columns are named as in SETTLEMENT.md: the claims' and persons' columns, the outputs' money
and cap-room columns. A validated claim becomes a *prepared* row: integer fen, the
settlement time as seconds since 1970-01-01 (China time, no zone), and the person's index in
the persons file (:data:`PREPARED_SCHEMA`). The local and the Spark engine both settle
prepared rows.
"""

from __future__ import annotations

import pyarrow as pa

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
