"""The standalone Store: SQLAlchemy over SQLite (default), MariaDB or PostgreSQL.

Datetimes are stored naive in UTC and come back aware (UTC). Transactions:
- SQLite: atomic() takes the write lock up front (BEGIN IMMEDIATE), so reservations
  run one at a time; plain reads stay concurrent (WAL).
- MariaDB / PostgreSQL: READ COMMITTED, and lock() is SELECT ... FOR UPDATE on the
  rows named, so two reservations for one host run one after the other and the second
  sees what the first committed.
- A transaction the database undoes because it collided with another (InnoDB deadlock or
  lock wait timeout, PostgreSQL deadlock or serialization failure, SQLite busy past its
  timeout) leaves atomic() as TransactionConflict: nothing was stored, and it may run again.
  InnoDB can deadlock two transactions that never lock in conflicting orders (its
  duplicate check on a unique index takes next-key locks, even in READ COMMITTED, as when
  two reschedules move their tokens at once); the remedy it documents is to retry.
- list(for_update=True) is a read that sees every change committed so far. Under READ
  COMMITTED (and SQLite's single writer) every statement reads the latest commits, so it
  takes no row locks: lock() on the host rows is the mutual exclusion. Locking the rows
  read as well would lock other hosts' bookings and bookings being rescheduled in an
  order no caller controls, and deadlock (tests/db/test_booking_race.py).

Filters follow Frappe's semantics where the SQL ones differ: `!=`, `not in` and
`not like` also match rows where the field is not set; `is set` / `is not set` treat an
empty text as not set; `like` ignores case on every database.

Inserts apply the doctype's defaults (as Frappe's insert does) and store 0 for unset
Int / Check / Float fields (Frappe's columns are NOT NULL DEFAULT 0). A text longer than
its column (Data: 140 characters) raises InvalidInput naming the field on every database.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator, Mapping, Optional, Sequence

from sqlalchemy import and_, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from ...errors import DuplicateEntry, InvalidInput, NotFound, TransactionConflict
from .schema import DATA_LENGTH, Meta, build_metadata, is_varchar, load_metas

UTC = timezone.utc
log = logging.getLogger(__name__)
STANDARD = ("name", "creation", "modified", "owner", "modified_by", "docstatus", "idx")
CHILD_STANDARD = ("parent", "parentfield", "parenttype")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "is")
NUMBERS = ("Int", "Check", "Float", "Currency", "Percent", "Rating", "Duration")
TEXTUAL = ("Date", "Datetime", "Time", "Int", "Check", "Float", "Currency", "Percent", "Rating", "Duration", "JSON")
# MariaDB / PostgreSQL pool. A transaction waiting for a host's lock keeps its connection,
# so a burst of bookings for one host (tests/db: 100 at once) checks out all 40 and the
# rest queue for one; they wait up to pool_timeout (SQLAlchemy's default, 30 s, is too
# short for a long burst on a slow machine) instead of failing with a 500.
POOL = {"pool_size": 20, "max_overflow": 20, "pool_timeout": 60, "pool_pre_ping": True}


def default_url(path: str = "meetings.sqlite") -> str:
    return f"sqlite:///{path}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):  # pragma: no cover - driver plumbing
            dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
            cursor = dbapi_connection.cursor()
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):  # pragma: no cover - driver plumbing
            immediate = connection.info.pop("immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, isolation_level="READ COMMITTED", **POOL)


# Errors after which the database has undone the transaction and a retry may succeed.
MYSQL_CONFLICTS = {1205, 1213}  # lock wait timeout, deadlock
POSTGRES_CONFLICTS = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def _is_conflict(error: BaseException) -> bool:
    """A deadlock-like DBAPI error anywhere in the chain (a failed ROLLBACK TO SAVEPOINT
    after InnoDB undid the transaction hides the deadlock behind "SAVEPOINT does not exist")."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        original = getattr(error, "orig", None)
        if original is not None:
            code = original.args[0] if getattr(original, "args", None) else None
            if code in MYSQL_CONFLICTS or getattr(original, "sqlstate", None) in POSTGRES_CONFLICTS:
                return True
            if "database is locked" in str(original):
                return True
        error = error.__cause__ or error.__context__
    return False


def new_name() -> str:
    return secrets.token_hex(5)  # Frappe's hash names are 10 hex characters


class SQLStore:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self.metadata = build_metadata(self.dialect)
        self.metas: dict[str, Meta] = load_metas()
        self._local = threading.local()

    # --- schema -----------------------------------------------------------------------

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        self.metadata.drop_all(self.engine)

    # --- transactions -----------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[None]:
        current: Optional[Connection] = getattr(self._local, "connection", None)
        if current is not None:
            mark = len(self._local.after_commit)
            try:
                with current.begin_nested():
                    yield
            except BaseException:
                del self._local.after_commit[mark:]  # the savepoint's work is undone: so are its callbacks
                raise
            return
        with self.engine.connect() as connection:
            if self.dialect == "sqlite":
                connection.info["immediate"] = True
            self._local.connection = connection
            self._local.after_commit = []
            try:
                with connection.begin():
                    yield
            except DBAPIError as error:
                if _is_conflict(error):
                    raise TransactionConflict(
                        "This changed at the same moment as another request, so nothing was saved. Please try again."
                    ) from error
                raise
            finally:
                callbacks = self._local.after_commit
                self._local.connection = None
                self._local.after_commit = []
        for callback in callbacks:  # only reached when the transaction committed
            try:
                callback()
            except Exception:  # noqa: BLE001 - what committed stays committed; say so loudly
                log.exception("after-commit callback failed (the transaction itself committed)")

    def after_commit(self, callback) -> bool:
        """Run callback once the current transaction commits; False if none is open."""
        if getattr(self._local, "connection", None) is None:
            return False
        self._local.after_commit.append(callback)
        return True

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        current = getattr(self._local, "connection", None)
        if current is not None:
            yield current
            return
        with self.engine.begin() as connection:
            yield connection

    def lock(self, doctype: str, names: Sequence[str]) -> None:
        if getattr(self._local, "connection", None) is None:
            raise RuntimeError("lock() must be called inside atomic()")
        if not names:
            return
        table = self._table(doctype)
        query = select(table.c.name).where(table.c.name.in_(sorted(set(names)))).order_by(table.c.name)
        if self.dialect != "sqlite":  # SQLite: BEGIN IMMEDIATE already holds the database's write lock
            query = query.with_for_update()
        with self._connection() as connection:
            found = connection.execute(query).all()
        if len(found) != len(set(names)):
            missing = sorted(set(names) - {row[0] for row in found})
            raise NotFound(f"{doctype} {', '.join(missing)} does not exist")

    # --- reading ----------------------------------------------------------------------

    def meta(self, doctype: str) -> Meta:
        try:
            return self.metas[doctype]
        except KeyError:
            raise NotFound(f"DocType {doctype} not found") from None

    def _table(self, doctype: str):
        return self.metadata.tables[self.meta(doctype).table]

    def get(self, doctype: str, name: str) -> Optional[dict[str, Any]]:
        meta = self.meta(doctype)
        if meta.issingle:
            return self._get_single(meta)
        table = self._table(doctype)
        with self._connection() as connection:
            row = connection.execute(select(table).where(table.c.name == name)).mappings().first()
            if row is None:
                return None
            doc = self._out(meta, row)
            doc["doctype"] = doctype
            for fieldname, child_doctype in meta.tables().items():
                child = self._table(child_doctype)
                rows = connection.execute(
                    select(child)
                    .where(and_(child.c.parent == name, child.c.parenttype == doctype, child.c.parentfield == fieldname))
                    .order_by(child.c.idx)
                ).mappings()
                doc[fieldname] = [self._out(self.meta(child_doctype), r) for r in rows]
        return doc

    def get_value(self, doctype: str, filters: Mapping[str, Any], field: str) -> Any:
        rows = self.list(doctype, filters, fields=(field,), limit=1)
        return rows[0][field] if rows else None

    def list(
        self,
        doctype: str,
        filters: Optional[Mapping[str, Any]] = None,
        fields: Sequence[str] = ("name",),
        order_by: Optional[str] = None,
        limit: Optional[int] = None,
        for_update: bool = False,
    ) -> list[dict[str, Any]]:
        meta = self.meta(doctype)
        table = self._table(doctype)
        fields = list(fields) or ["name"]
        if fields == ["*"]:
            fields = [c.name for c in table.columns]
        for fieldname in fields:
            if fieldname not in table.c:
                raise InvalidInput("fields", f"{doctype} has no field {fieldname!r}")
        query = select(*(table.c[f] for f in fields)).where(*self._where(meta, table, filters or {}))
        if order_by:
            for part in order_by.split(","):
                words = part.strip().split()
                column = words[0].strip("`")
                if column not in table.c:
                    raise InvalidInput("order_by", f"{doctype} has no field {column!r}")
                direction = words[1].lower() if len(words) > 1 else "asc"
                if direction not in ("asc", "desc"):
                    raise InvalidInput("order_by", f"{direction!r} is neither asc nor desc")
                query = query.order_by(table.c[column].desc() if direction == "desc" else table.c[column].asc())
        if limit:
            query = query.limit(int(limit))
        # for_update: every statement here reads the latest commits (READ COMMITTED, or
        # SQLite's single writer), so no row locks are taken; see the module docstring.
        with self._connection() as connection:
            return [self._out(meta, row) for row in connection.execute(query).mappings()]

    def count_by(
        self,
        doctype: str,
        filters: Optional[Mapping[str, Any]],
        field: str,
        latest: str = "creation",
        for_update: bool = False,  # every read here sees the latest commits: see list()
    ) -> dict[Any, tuple[int, Any]]:
        meta = self.meta(doctype)
        table = self._table(doctype)
        for fieldname in (field, latest):
            if fieldname not in table.c:
                raise InvalidInput("fields", f"{doctype} has no field {fieldname!r}")
        # max() keeps the column's type, so datetimes come back as datetimes on SQLite too.
        query = (
            select(table.c[field], func.count().label("n"), func.max(table.c[latest]).label(latest))
            .where(*self._where(meta, table, filters or {}))
            .group_by(table.c[field])
        )
        with self._connection() as connection:
            rows = connection.execute(query).mappings().all()
        return {row[field]: (int(row["n"]), self._out(meta, {latest: row[latest]})[latest]) for row in rows}

    def _where(self, meta: Meta, table, filters: Mapping[str, Any]):
        types = meta.columns()
        clauses = []
        items = filters.items() if isinstance(filters, Mapping) else ((f[0], f[1:]) for f in filters)
        for fieldname, condition in items:
            if fieldname not in table.c:
                raise InvalidInput("filters", f"{meta.name} has no field {fieldname!r}")
            column = table.c[fieldname]
            fieldtype = types.get(fieldname, "Data")
            if isinstance(condition, (list, tuple)) and len(condition) == 2 and str(condition[0]).lower() in OPERATORS:
                operator, value = str(condition[0]).lower(), condition[1]
            else:
                operator, value = "=", condition
            textual = fieldname not in STANDARD and fieldtype not in TEXTUAL
            if operator in ("in", "not in"):
                values = [self._in(fieldtype, v) for v in (value if isinstance(value, (list, tuple, set)) else str(value).split(","))]
                clauses.append(column.in_(values) if operator == "in" else or_(column.not_in(values), column.is_(None)))
            elif operator == "is":
                if str(value).lower() not in ("set", "not set"):
                    raise InvalidInput("filters", f"{fieldname}: 'is' takes 'set' or 'not set', not {value!r}")
                if str(value).lower() == "set":
                    clauses.append(and_(column.is_not(None), column != "") if textual else column.is_not(None))
                else:
                    clauses.append(or_(column.is_(None), column == "") if textual else column.is_(None))
            elif operator in ("like", "not like"):
                matches = column.ilike(value) if self.dialect == "postgresql" else column.like(value)
                clauses.append(matches if operator == "like" else or_(~matches, column.is_(None)))
            else:
                value = self._in(fieldtype, value)
                clauses.append(
                    {
                        "=": column == value,
                        "!=": or_(column != value, column.is_(None)) if value is not None else column.is_not(None),
                        "<": column < value,
                        "<=": column <= value,
                        ">": column > value,
                        ">=": column >= value,
                    }[operator]
                )
        return clauses

    def _get_single(self, meta: Meta) -> dict[str, Any]:
        singles = self.metadata.tables["tabSingles"]
        with self._connection() as connection:
            rows = connection.execute(select(singles.c.field, singles.c.value).where(singles.c.doctype == meta.name)).all()
        stored = {field: value for field, value in rows}
        doc: dict[str, Any] = {"doctype": meta.name, "name": meta.name}
        for f in meta.fields:
            if f["fieldtype"] in ("Section Break", "Column Break", "Tab Break", "HTML", "Button", "Heading", "Table"):
                continue
            raw = stored.get(f["fieldname"], f.get("default"))
            doc[f["fieldname"]] = self._single_out(f["fieldtype"], raw)
        return doc

    # --- writing ----------------------------------------------------------------------

    def insert(self, doctype: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        meta = self.meta(doctype)
        if meta.issingle:
            self.update(doctype, doctype, doc)
            return self.get(doctype, doctype)
        doc = self._with_defaults(meta, doc)
        name = doc.get("name") or self._autoname(meta, doc)
        now = datetime.now(UTC).replace(tzinfo=None)
        owner = doc.get("owner") or "Administrator"
        row = {"name": name, "creation": now, "modified": now, "owner": owner, "modified_by": owner, "docstatus": 0, "idx": 0}
        row.update(self._values(meta, doc))
        children = {
            fieldname: [self._with_defaults(self.meta(child_doctype), child) for child in doc.get(fieldname) or []]
            for fieldname, child_doctype in meta.tables().items()
        }
        try:
            with self._statement() as connection:
                connection.execute(insert(self._table(doctype)).values(**row))
                for fieldname, child_doctype in meta.tables().items():
                    self._insert_children(connection, doctype, name, fieldname, child_doctype, children[fieldname], now, owner)
        except IntegrityError as error:
            raise DuplicateEntry(f"{doctype} {name} already exists or repeats a unique value") from error
        stored = dict(doc)
        stored.update(children)
        stored.update({"name": name, "doctype": doctype, "creation": now.replace(tzinfo=UTC)})
        return stored

    def _with_defaults(self, meta: Meta, doc: Mapping[str, Any]) -> dict[str, Any]:
        """Frappe's insert: a field left unset (None) takes the doctype's default."""
        doc = dict(doc)
        for f in meta.fields:
            fieldname, default = f["fieldname"], f.get("default")
            if doc.get(fieldname) is not None or fieldname in STANDARD:
                continue
            if default not in (None, "") and not str(default).startswith("__") and str(default) not in ("Today", "Now"):
                doc[fieldname] = default
            elif f["fieldtype"] in NUMBERS:
                doc[fieldname] = 0
        return doc

    @contextmanager
    def _statement(self) -> Iterator[Connection]:
        """A connection for one write. Inside a transaction on PostgreSQL the write gets
        its own savepoint: a failed statement there aborts the whole transaction, while
        MariaDB and SQLite undo just the statement. So a caught DuplicateEntry leaves the
        transaction usable on every database."""
        with self._connection() as connection:
            if self.dialect == "postgresql" and getattr(self._local, "connection", None) is not None:
                with connection.begin_nested():
                    yield connection
            else:
                yield connection

    def _insert_children(self, connection, parenttype, parent, fieldname, child_doctype, rows, now, owner):
        child_meta = self.meta(child_doctype)
        table = self._table(child_doctype)
        for idx, child in enumerate(rows, start=1):
            values = {
                "name": new_name(), "creation": now, "modified": now, "owner": owner, "modified_by": owner,
                "docstatus": 0, "idx": idx, "parent": parent, "parentfield": fieldname, "parenttype": parenttype,
            }
            values.update(self._values(child_meta, child))
            connection.execute(insert(table).values(**values))

    def update(self, doctype: str, name: str, values: Mapping[str, Any]) -> None:
        meta = self.meta(doctype)
        if meta.issingle:
            self._update_single(meta, values)
            return
        now = datetime.now(UTC).replace(tzinfo=None)
        table = self._table(doctype)
        columns = self._values(meta, values)
        if values.get("owner"):  # the one standard field a use-case changes (a reassigned Event)
            columns["owner"] = values["owner"]
        try:
            with self._statement() as connection:
                result = connection.execute(update(table).where(table.c.name == name).values(modified=now, **columns))
                if result.rowcount == 0:
                    raise NotFound(f"{doctype} {name} not found")
                for fieldname, child_doctype in meta.tables().items():
                    if fieldname in values:
                        child = self._table(child_doctype)
                        connection.execute(
                            delete(child).where(and_(child.c.parent == name, child.c.parenttype == doctype, child.c.parentfield == fieldname))
                        )
                        rows = [self._with_defaults(self.meta(child_doctype), row) for row in values[fieldname] or []]
                        self._insert_children(connection, doctype, name, fieldname, child_doctype, rows, now, "Administrator")
        except IntegrityError as error:
            raise DuplicateEntry(f"{doctype} {name}: a unique value is repeated") from error

    def _update_single(self, meta: Meta, values: Mapping[str, Any]) -> None:
        singles = self.metadata.tables["tabSingles"]
        types = meta.columns()
        with self._connection() as connection:
            for fieldname, value in values.items():
                if fieldname not in types:
                    continue
                connection.execute(delete(singles).where(and_(singles.c.doctype == meta.name, singles.c.field == fieldname)))
                if value is not None:
                    stored = self._in(types[fieldname], value)
                    if isinstance(stored, datetime):
                        stored = stored.isoformat(sep=" ")
                    connection.execute(insert(singles).values(doctype=meta.name, field=fieldname, value=str(stored)))

    def delete(self, doctype: str, name: str) -> None:
        meta = self.meta(doctype)
        table = self._table(doctype)
        with self._connection() as connection:
            for child_doctype in set(meta.tables().values()):
                child = self._table(child_doctype)
                connection.execute(delete(child).where(and_(child.c.parent == name, child.c.parenttype == doctype)))
            connection.execute(delete(table).where(table.c.name == name))

    # --- secrets (Password fields) ---------------------------------------------------------

    def set_password(self, doctype: str, name: str, fieldname: str, value: Optional[str]) -> None:
        auth = self.metadata.tables["__Auth"]
        with self._connection() as connection:
            connection.execute(
                delete(auth).where(and_(auth.c.doctype == doctype, auth.c.name == name, auth.c.fieldname == fieldname))
            )
            if value is not None:
                connection.execute(insert(auth).values(doctype=doctype, name=name, fieldname=fieldname, password=value))

    def get_password(self, doctype: str, name: str, fieldname: str) -> Optional[str]:
        auth = self.metadata.tables["__Auth"]
        with self._connection() as connection:
            return connection.execute(
                select(auth.c.password).where(and_(auth.c.doctype == doctype, auth.c.name == name, auth.c.fieldname == fieldname))
            ).scalar()

    # --- conversion ---------------------------------------------------------------------

    def _autoname(self, meta: Meta, doc: Mapping[str, Any]) -> str:
        rule = meta.autoname or "hash"
        if rule.startswith("field:"):
            value = doc.get(rule.split(":", 1)[1])
            if not value:
                raise InvalidInput(rule.split(":", 1)[1], "is required")
            return str(value)
        return new_name()

    def _values(self, meta: Meta, doc: Mapping[str, Any]) -> dict[str, Any]:
        types = meta.columns()
        values = {}
        for fieldname, value in doc.items():
            fieldtype = types.get(fieldname)
            if fieldtype is None or fieldname in STANDARD or fieldname in CHILD_STANDARD:
                continue
            if fieldtype == "Password":
                values[fieldname] = "*" * 10 if value else None  # the secret goes through set_password
                continue
            if value is None and fieldtype in NUMBERS:
                value = 0
            try:
                stored = self._in(fieldtype, value)
            except InvalidInput as error:
                raise InvalidInput(fieldname, error.reason) from None
            except (TypeError, ValueError):
                raise InvalidInput(fieldname, f"{value!r} is not a valid {fieldtype}") from None
            if isinstance(stored, str) and is_varchar(fieldtype) and len(stored) > DATA_LENGTH:
                raise InvalidInput(fieldname, f"is too long ({len(stored)} characters, at most {DATA_LENGTH})")
            values[fieldname] = stored
        return values

    @staticmethod
    def _in(fieldtype: str, value: Any) -> Any:
        if value is None:
            return None
        if fieldtype == "Datetime":
            if isinstance(value, str):
                if not value.strip():
                    return None
                try:
                    value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                except ValueError:
                    raise InvalidInput("datetime", f"{value!r} is not a date-time") from None
            if isinstance(value, datetime):
                return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
            raise InvalidInput("datetime", f"{value!r} is not a date-time")
        if fieldtype == "Date":
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, str):
                return date.fromisoformat(value) if value.strip() else None
            return value
        if fieldtype == "Time":
            if isinstance(value, timedelta):
                return (datetime.min + value).time()  # Frappe's 24:00 (a day) becomes 00:00
            if isinstance(value, str):
                value = value.strip()
                if value in ("24:00", "24:00:00"):
                    return time(0, 0)  # an end of 00:00 is the next midnight (docs/ARCHITECTURE.md)
                return time.fromisoformat(value) if value else None
            return value
        if fieldtype in ("Int", "Check"):
            if isinstance(value, bool):
                return int(value)
            if value == "":
                return 0
            return int(value)
        if fieldtype in ("Float", "Currency", "Percent"):
            return float(value) if value != "" else 0.0
        if fieldtype == "JSON":
            return value if isinstance(value, str) else json.dumps(value, default=str)
        return value if isinstance(value, str) else str(value)

    @staticmethod
    def _out(meta: Meta, row: Mapping[str, Any]) -> dict[str, Any]:
        types = meta.columns()
        doc = dict(row)
        for key, value in doc.items():
            fieldtype = types.get(key)
            if key in ("creation", "modified") or fieldtype == "Datetime":
                if isinstance(value, datetime):
                    doc[key] = value.replace(tzinfo=UTC)
            elif fieldtype == "JSON" and isinstance(value, str) and value:
                try:
                    doc[key] = json.loads(value)
                except ValueError:
                    pass
        return doc

    @staticmethod
    def _single_out(fieldtype: str, raw: Any) -> Any:
        if raw is None:
            return 0 if fieldtype in ("Int", "Check") else None
        if fieldtype in ("Int", "Check"):
            try:
                return int(float(raw))
            except ValueError:
                return 0
        if fieldtype == "Datetime":
            return datetime.fromisoformat(str(raw)).replace(tzinfo=UTC)
        return raw
