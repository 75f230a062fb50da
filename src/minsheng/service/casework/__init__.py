"""Casework in the settlement service (issue 5; POLICY.md §3.5, §5, §6).

- :mod:`.filings` 异地就医备案 (remote-care filing) and :mod:`.settlement_hooks`, which apply
  the same rules as the ``remote_care_route`` calculation when a claim for care outside the
  insured place is settled, and settle an outpatient visit of a recognised disease as ``14``;
- :mod:`.transfers` 转移接续 with the deadline of the ``transfer_deadline`` calculation;
- :mod:`.recognitions` 门诊慢特病认定 and 双通道药品备案, and refund-and-re-settle / 轧差;
- :mod:`.assistance_approval` 社会救助审批 at the township, with its twice-monthly runs;
- :mod:`.watch_lists` 因病返贫致贫监测名单 computed from the settlements, and their export.

Every step is a function ``(uow, principal, …)`` that checks the role and its region, writes
in one transaction and appends to the audit trail. This package's ``__init__`` imports
nothing, so that the unit of work may import :mod:`.repository` without a cycle.
"""
