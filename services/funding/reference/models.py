"""The reference lists: kinds of activity, funding sources and funder types, one table."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from services.funding.models import FundingBase


class ReferenceItem(FundingBase, table=True):
    """One item of a list an administrator extends. An item is never deleted: a retired one is
    refused for new records while the records that name it keep it."""

    __tablename__ = "reference_items"
    __table_args__ = (Index("uq_reference_items_kind_code", "kind", "code", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    """`activities`, `sources` or `funder-types` (`rules.ReferenceKind`)."""
    code: str = Field(max_length=30)
    name_vi: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    source: str | None = Field(default=None, max_length=30)
    """For funder types: the source column their money counts in."""
    retired: bool = False
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
