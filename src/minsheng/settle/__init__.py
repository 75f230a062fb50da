"""Settling claims given as JSON: parsing and checking persons and claims, running the
settlement kernel (:mod:`minsheng.rules.settlement`) and rendering its outputs.

Face-neutral: the command line (``minsheng settle``), the HTTP API
(``POST /api/v1/settlements/preview``) and the service use the same functions.
"""
