"""The settlement service: persistence, persons, settlements, access and the audit trail.

Layers (imports point down): ``api/`` and ``cli/`` call the service functions of
:mod:`persons` and :mod:`settlements`, which talk to a unit of work
(:mod:`unit_of_work`) holding the repositories (:mod:`repository`) over the SQLAlchemy
models (:mod:`models`); the settlement kernel of ``minsheng.rules`` does the arithmetic.
"""
