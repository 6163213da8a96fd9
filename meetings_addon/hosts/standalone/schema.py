"""Tables derived from the doctype JSON, the schema of record, so the hosts cannot drift.

Every doctype becomes `tab<DocType>` with Frappe's standard columns (name, creation,
modified, owner, modified_by, docstatus, idx; parent, parentfield, parenttype for child
tables) and one column per data field, typed as Frappe types it. Single doctypes live in
`tabSingles` (doctype, field, value) as in Frappe; Password values in `__Auth`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

PACKAGE = Path(__file__).resolve().parents[2]
DOCTYPE_DIR = PACKAGE / "meetings_addon" / "doctype"
CORE_DOCTYPES = Path(__file__).with_name("core_doctypes.json")

# Frappe v15 frappe/model/__init__.py: fields without a column.
NO_VALUE = {
    "Section Break", "Column Break", "Tab Break", "HTML", "Table", "Table MultiSelect",
    "Button", "Image", "Fold", "Heading",
}
TABLE_TYPES = {"Table", "Table MultiSelect"}
TEXT = {"Small Text", "Text", "Long Text", "Text Editor", "Code", "HTML Editor", "Markdown Editor", "JSON", "Geolocation"}
INTEGER = {"Int", "Check"}
DECIMAL = {"Float", "Currency", "Percent", "Rating", "Duration"}
DATA_LENGTH = 140  # Frappe's varchar(140) for Data, Link, Select, ...


def is_varchar(fieldtype: str) -> bool:
    """Stored in a String(DATA_LENGTH) column."""
    return fieldtype not in TEXT | INTEGER | DECIMAL | NO_VALUE | {"Date", "Time", "Datetime"}


def _datetime():
    # MariaDB's DATETIME keeps whole seconds unless told otherwise; Frappe uses datetime(6).
    return DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _time():
    return Time().with_variant(mysql.TIME(fsp=6), "mysql", "mariadb")


@dataclass
class Meta:
    name: str
    fields: list[dict]
    istable: bool = False
    issingle: bool = False
    autoname: Optional[str] = None
    indexes: list[str] = field(default_factory=list)
    uniques: list[str] = field(default_factory=list)

    @property
    def table(self) -> str:
        return f"tab{self.name}"

    def fieldtypes(self) -> dict[str, str]:
        return {f["fieldname"]: f["fieldtype"] for f in self.fields}

    def tables(self) -> dict[str, str]:
        """Child table field -> child doctype."""
        return {f["fieldname"]: f["options"] for f in self.fields if f["fieldtype"] in TABLE_TYPES}

    def columns(self) -> dict[str, str]:
        return {f["fieldname"]: f["fieldtype"] for f in self.fields if f["fieldtype"] not in NO_VALUE}

    def passwords(self) -> set[str]:
        return {f["fieldname"] for f in self.fields if f["fieldtype"] == "Password"}


@lru_cache(maxsize=1)
def load_metas() -> dict[str, Meta]:
    metas: dict[str, Meta] = {}
    for path in sorted(DOCTYPE_DIR.glob("*/*.json")):
        if path.stem != path.parent.name:
            continue
        doc = json.loads(path.read_text())
        if doc.get("doctype") != "DocType":
            continue
        metas[doc["name"]] = Meta(
            name=doc["name"],
            fields=doc.get("fields", []),
            istable=bool(doc.get("istable")),
            issingle=bool(doc.get("issingle")),
            autoname=doc.get("autoname"),
            indexes=[f["fieldname"] for f in doc.get("fields", []) if f.get("search_index")],
            uniques=[f["fieldname"] for f in doc.get("fields", []) if f.get("unique")],
        )
    core = json.loads(CORE_DOCTYPES.read_text())
    for name, spec in core.items():
        if name.startswith("_"):
            continue
        fields = [
            {"fieldname": row[0], "fieldtype": row[1], **({"options": row[2]} if len(row) > 2 else {})}
            for row in spec["fields"]
        ]
        metas[name] = Meta(
            name=name,
            fields=fields,
            istable=bool(spec.get("istable")),
            autoname=spec.get("autoname"),
            indexes=spec.get("index", []),
            uniques=spec.get("unique", []),
        )
    return metas


def _column_type(fieldtype: str, dialect: str):
    if fieldtype in TEXT:
        return Text().with_variant(Text(length=2**32 - 1), "mysql", "mariadb")
    if fieldtype in INTEGER:
        return Integer()
    if fieldtype in DECIMAL:
        return Float()
    if fieldtype == "Date":
        return Date()
    if fieldtype == "Time":
        return _time()
    if fieldtype == "Datetime":
        return _datetime()
    return String(DATA_LENGTH)


# Queries the core runs on every booking: keep them on an index.
EXTRA_INDEXES = {
    "Booking": [("host", "start"), ("start",), ("manage_token",), ("meeting_link", "host")],
    "Local Calendar Event": [("user", "start"), ("uid",)],
    "Calendar Connection": [("user",)],
}


def build_metadata(dialect: str = "sqlite") -> MetaData:
    metadata = MetaData()
    for meta in load_metas().values():
        if meta.issingle:
            continue
        columns = [
            Column("name", String(140), primary_key=True),
            Column("creation", _datetime()),
            Column("modified", _datetime()),
            Column("owner", String(140)),
            Column("modified_by", String(140)),
            Column("docstatus", Integer(), nullable=False, default=0),
            Column("idx", Integer(), nullable=False, default=0),
        ]
        if meta.istable:
            columns += [Column("parent", String(140)), Column("parentfield", String(140)), Column("parenttype", String(140))]
        for fieldname, fieldtype in meta.columns().items():
            columns.append(Column(fieldname, _column_type(fieldtype, dialect)))
        table = Table(meta.table, metadata, *columns)
        if meta.istable:
            Index(f"ix_{_slug(meta.name)}_parent", table.c.parent)
        for fieldname in meta.indexes:
            Index(f"ix_{_slug(meta.name)}_{fieldname}", table.c[fieldname])
        for fieldname in meta.uniques:
            table.append_constraint(UniqueConstraint(fieldname, name=f"uq_{_slug(meta.name)}_{fieldname}"))
        for number, fields in enumerate(EXTRA_INDEXES.get(meta.name, [])):
            Index(f"ix_{_slug(meta.name)}_{number}", *(table.c[f] for f in fields))
    Table(
        "tabSingles",
        metadata,
        Column("doctype", String(140), primary_key=True),
        Column("field", String(140), primary_key=True),
        Column("value", Text()),
    )
    Table(
        "__Auth",
        metadata,
        Column("doctype", String(140), primary_key=True),
        Column("name", String(140), primary_key=True),
        Column("fieldname", String(140), primary_key=True),
        Column("password", Text(), nullable=False),
    )
    return metadata


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_")
