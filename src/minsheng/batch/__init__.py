"""Batch faces around the one settlement kernel (:mod:`minsheng.rules.settlement`).

- Reading and checking the inputs: :mod:`minsheng.batch.files` reads claims and persons
  (Parquet or CSV) in batches (:mod:`minsheng.batch.inputs`: their kind and size);
  :mod:`minsheng.batch.persons` and :mod:`minsheng.batch.claims` validate every row
  vectorised (:mod:`minsheng.batch.checks`; bad rows are reported by row number and field,
  :mod:`minsheng.batch.bad_rows`, and a file with a bad row settles nothing) and turn the
  claims into prepared rows for the kernel (:mod:`minsheng.batch.columns` names the columns
  the engines share);
  :mod:`minsheng.batch.overrides` reads a reform's parameter overrides, and
  :mod:`minsheng.batch.money_text` writes the outputs' money as text.
- :mod:`minsheng.batch.local` settles a file on this machine in chunks of whole persons,
  resumably; :mod:`minsheng.batch.spark` does the same on Apache Spark
  (``groupBy(...).applyInArrow`` over groups of persons). Their pieces:
  :mod:`minsheng.batch.ingest` checks the claims and spills them into buckets of whole
  persons (or stages them for Spark), :mod:`minsheng.batch.chunks` settles one chunk with
  the kernel and builds its output tables, :mod:`minsheng.batch.parts` writes the part files
  and the resume manifest, :mod:`minsheng.batch.pool` runs the worker processes and
  :mod:`minsheng.batch.worker_state` holds what each keeps for its job.
- :mod:`minsheng.batch.synthetic` makes a synthetic province; :mod:`minsheng.batch.simulate`
  compares a baseline with a reform; :mod:`minsheng.batch.report` renders the HTML report.

No engine does settlement arithmetic of its own: every claim is settled by
:func:`minsheng.rules.settlement.settle`, so every engine gives the same fen.
"""
