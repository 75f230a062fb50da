"""Dependencies of the service routes: the database, units of work, and who is asking.

Every service route takes a :class:`~minsheng.service.auth.Principal` from the
``Authorization: Bearer TOKEN`` header (401 without a valid token); the service functions
then check the role and its scope (403).
"""

from __future__ import annotations

from fastapi import Header, Request

from minsheng.service.auth import Principal, authenticate
from minsheng.service.db import Database, get_database
from minsheng.service.unit_of_work import UnitOfWork, UnitOfWorkFactory, factory

STATE_KEY = "minsheng_database"


def database(request: Request) -> Database:
    """The app's database (set when the app starts; else the one of the environment)."""
    db: Database | None = getattr(request.app.state, STATE_KEY, None)
    if db is None:
        db = get_database()
        setattr(request.app.state, STATE_KEY, db)
    return db


def uow_factory(request: Request) -> UnitOfWorkFactory:
    return factory(database(request))


def principal(request: Request,
              authorization: str | None = Header(
                  None, description="Bearer 访问令牌（minsheng token create 生成）")
              ) -> Principal:
    with UnitOfWork(database(request)) as uow:
        return authenticate(uow, authorization)
