"""The Frappe Store: ports.Store over Frappe's own document API.

Semantics mirror the standalone SQLStore (hosts/standalone/store.py):

- Documents are plain dicts with Frappe's field names; child tables are lists of dicts.
  Reads go through frappe.get_doc / frappe.get_single / frappe.get_all, writes through
  Document.insert / Document.save with ignore_permissions: the use-cases decide who may
  do what, so a guest's booking runs every controller, default, link check and hook
  Frappe runs for a desk user, without the desk user's permissions.
- Filters are frappe.get_all's (the standalone store copies their semantics): `!=`,
  `not in` and `not like` also match rows where the field is not set; `is set` treats an
  empty text as not set.
- Datetimes: the core works in aware UTC; Frappe keeps Datetime fields naive, in the
  site's system time zone (System Settings > Time Zone). `to_frappe` / `to_utc` below are
  the one place that converts, for every Datetime field (by the doctype's meta) and
  `creation` / `modified`, on the way in (documents and filter values) and on the way
  out. A naive datetime handed to the store is taken as UTC, as the standalone store
  takes it. One limit is Frappe's, not ours: in a system time zone with daylight saving
  time, the hour repeated when the clocks go back is ambiguous once stored naive; it
  reads back as its first occurrence (an instant in the second one comes back an hour
  early).
- JSON fields are stored as JSON text and come back as dicts (or lists); Time fields
  come back as datetime.time (Frappe reads them as timedelta).
- A text longer than its column (Data: 140 characters) raises InvalidInput naming the
  field, as the standalone store does (Frappe's own message would not name it).
- atomic() is a savepoint inside Frappe's own transaction (the request's, or the job's):
  rolled back to on error, together with the jobs queued inside it, released on success.
  Frappe commits the outer transaction when the request (POST) or job ends, so
  "committed on success" holds at that point; jobs queued meanwhile are sent only then.
  A deadlock or lock wait timeout inside rolls the whole transaction back and raises
  TransactionConflict: nothing was stored, the caller may run it again.
- lock() is SELECT ... FOR UPDATE on the rows by name, held until Frappe's transaction
  ends. MariaDB runs Frappe's transactions REPEATABLE READ: a plain read sees the
  transaction's snapshot, so list(for_update=True) inside atomic() is a locking read
  (frappe.get_all's query with FOR UPDATE), which sees every committed row. (The
  standalone store runs READ COMMITTED and needs no lock there.) Two such reads can
  deadlock; that is the TransactionConflict above, and the booking API runs the
  use-case again.

Needs Frappe: imported only by the Frappe host.
"""

from __future__ import annotations

import json
import secrets
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo

import frappe
from frappe.model import child_table_fields, default_fields, no_value_fields, table_fields
from frappe.utils import get_datetime, get_system_timezone, getdate

from ...errors import DuplicateEntry, InvalidInput, NotFound, TransactionConflict

UTC = timezone.utc
STANDARD = tuple(f for f in default_fields if f != "doctype")
CHILD_STANDARD = tuple(child_table_fields)
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "not like", "is")
STAMPS = ("creation", "modified")
MYSQL_CONFLICTS = (1205, 1213)  # lock wait timeout, deadlock
CONFLICT_MESSAGE = "This changed at the same moment as another request, so nothing was saved. Please try again."


class FrappeStore:
    """One per request or job (services() builds it): the system time zone is read once."""

    def __init__(self):
        self._zone: Optional[ZoneInfo] = None

    # --- the one place datetimes are converted ---------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        """The zone of Frappe's naive Datetime values: the system time zone, the one
        Frappe itself stamps creation and modified in."""
        if self._zone is None:
            self._zone = ZoneInfo(get_system_timezone())
        return self._zone

    def to_frappe(self, value: Any) -> Optional[datetime]:
        """An instant (aware datetime, ISO 8601 text; naive = UTC) as Frappe stores it:
        naive, in the system time zone."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise InvalidInput("datetime", f"{value!r} is not a date-time") from None
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, time())
        if not isinstance(value, datetime):
            raise InvalidInput("datetime", f"{value!r} is not a date-time")
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.zone).replace(tzinfo=None)

    def to_utc(self, value: Any) -> Optional[datetime]:
        """A Frappe Datetime value (naive, system time zone; datetime or text) as an
        aware UTC datetime."""
        if value is None or value == "":
            return None
        if not isinstance(value, datetime):
            value = get_datetime(value)
        if value.tzinfo is not None:  # an instant the core set on this document
            return value.astimezone(UTC)
        return value.replace(tzinfo=self.zone).astimezone(UTC)

    # --- meta ----------------------------------------------------------------------------

    def meta(self, doctype: str):
        if not isinstance(doctype, str) or not doctype or "`" in doctype:
            raise NotFound(f"DocType {doctype!r} not found")
        with _quiet():
            try:
                return frappe.get_meta(doctype)
            except frappe.DoesNotExistError:
                raise NotFound(f"DocType {doctype} not found") from None

    @staticmethod
    def _fields(meta) -> dict[str, Any]:
        """Fields with a column -> their DocField."""
        return {df.fieldname: df for df in meta.fields if df.fieldtype not in no_value_fields}

    @staticmethod
    def _tables(meta) -> dict[str, str]:
        """Child table field -> child doctype."""
        return {df.fieldname: df.options for df in meta.fields if df.fieldtype in table_fields}

    def _columns(self, meta) -> set[str]:
        columns = set(self._fields(meta)) | set(STANDARD)
        if meta.istable:
            columns |= set(CHILD_STANDARD)
        return columns

    def _fieldtype(self, meta, fieldname: str) -> str:
        if fieldname in STAMPS:
            return "Datetime"
        df = self._fields(meta).get(fieldname)
        return df.fieldtype if df else "Data"

    # --- transactions ------------------------------------------------------------------

    @staticmethod
    def _depth() -> int:
        return getattr(frappe.local, "meetings_atomic_depth", 0)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        name = f"meetings_{secrets.token_hex(6)}"
        frappe.db.savepoint(name)
        callbacks = _after_commit_count()
        depth = self._depth()
        frappe.local.meetings_atomic_depth = depth + 1
        try:
            yield
        except BaseException as error:
            if is_conflict(error):
                # InnoDB undid the whole transaction (deadlock), or will not wait longer
                # (lock wait timeout): undo all of it, as Frappe would at the request's end.
                frappe.db.rollback()
                raise TransactionConflict(CONFLICT_MESSAGE) from error
            try:
                frappe.db.rollback(save_point=name)
            except Exception:  # noqa: BLE001 - the transaction is gone already; the error says why
                pass
            _drop_after_commit(callbacks)  # the savepoint's work is undone: so are its jobs
            raise
        else:
            frappe.db.release_savepoint(name)
        finally:
            frappe.local.meetings_atomic_depth = depth

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """Run callback once Frappe's transaction commits (there always is one in a
        request or job); dropped if an enclosing atomic() is rolled back to. A failing
        callback is logged: what committed stays committed."""

        def safely() -> None:
            try:
                callback()
            except Exception:  # noqa: BLE001 - the commit happened; do not fail the request
                frappe.logger("meetings_addon").exception("after-commit callback failed (the transaction committed)")

        frappe.db.after_commit.add(safely)
        return True

    def lock(self, doctype: str, names: Sequence[str]) -> None:
        if not self._depth():
            raise RuntimeError("lock() must be called inside atomic()")
        wanted = sorted(set(names))
        if not wanted:
            return
        meta = self.meta(doctype)
        if meta.issingle:
            raise InvalidInput("doctype", f"{doctype} is a single: it has no rows to lock")
        found = frappe.db.sql(
            f"select `name` from `tab{meta.name}` where `name` in %(names)s order by `name` for update",
            {"names": tuple(wanted)},
            pluck=True,
        )
        missing = sorted(set(wanted) - set(found))
        if missing:
            raise NotFound(f"{doctype} {', '.join(missing)} does not exist")

    # --- reading -------------------------------------------------------------------------

    def get(self, doctype: str, name: str) -> Optional[dict[str, Any]]:
        meta = self.meta(doctype)
        if meta.issingle:
            return self._out(meta, frappe.get_single(doctype).as_dict())
        if not isinstance(name, str) or not name:
            return None
        # Exact names only: MariaDB compares without case, a URL path does not.
        if frappe.db.exists(doctype, name) != name:
            return None
        return self._out(meta, frappe.get_doc(doctype, name).as_dict())

    def get_value(self, doctype: str, filters: Mapping[str, Any], field: str) -> Any:
        meta = self.meta(doctype)
        if meta.issingle:
            return (self.get(doctype, doctype) or {}).get(field)
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
        columns = self._columns(meta)
        fields = list(fields) or ["name"]
        if fields == ["*"]:
            fields = sorted(columns)
        for fieldname in fields:
            if fieldname not in columns:
                raise InvalidInput("fields", f"{doctype} has no field {fieldname!r}")
        arguments = {
            "filters": self._filters(meta, filters or {}),
            "fields": [f"`tab{meta.name}`.`{f}`" for f in fields],
            "order_by": self._order_by(meta, order_by),
            "limit_page_length": int(limit) if limit else 0,
        }
        if for_update and self._depth():
            # frappe.get_all has no FOR UPDATE in v15: its own query, locking.
            query = frappe.get_all(doctype, run=False, **arguments)
            rows = frappe.db.sql(f"{query} for update", as_dict=True)
        else:
            rows = frappe.get_all(doctype, **arguments)
        return [self._out(meta, row) for row in rows]

    def _filters(self, meta, filters) -> list[list[Any]]:
        columns = self._columns(meta)
        items = filters.items() if isinstance(filters, Mapping) else ((f[0], f[1:]) for f in filters)
        result = []
        for fieldname, condition in items:
            if fieldname not in columns:
                raise InvalidInput("filters", f"{meta.name} has no field {fieldname!r}")
            if isinstance(condition, (list, tuple)) and len(condition) == 2 and str(condition[0]).lower() in OPERATORS:
                operator, value = str(condition[0]).lower(), condition[1]
            elif isinstance(condition, (list, tuple)) and len(condition) == 1:
                operator, value = "=", condition[0]
            else:
                operator, value = "=", condition
            fieldtype = self._fieldtype(meta, fieldname)
            if operator in ("in", "not in"):
                values = value if isinstance(value, (list, tuple, set)) else str(value).split(",")
                value = [self._filter_value(fieldname, fieldtype, v) for v in values]
            elif operator == "is":
                if str(value).lower() not in ("set", "not set"):
                    raise InvalidInput("filters", f"{fieldname}: 'is' takes 'set' or 'not set', not {value!r}")
                value = str(value).lower()
            elif operator not in ("like", "not like"):
                value = self._filter_value(fieldname, fieldtype, value)
            result.append([meta.name, fieldname, operator, value])
        return result

    def _filter_value(self, fieldname: str, fieldtype: str, value: Any) -> Any:
        value = self._in(fieldname, fieldtype, value, check_length=False)
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")  # a Datetime literal as Frappe writes it
        return value

    def _order_by(self, meta, order_by: Optional[str]) -> Optional[str]:
        if not order_by:
            return None
        columns = self._columns(meta)
        parts = []
        for part in order_by.split(","):
            words = part.strip().split()
            if not words:
                continue
            column = words[0].strip("`")
            if column not in columns:
                raise InvalidInput("order_by", f"{meta.name} has no field {column!r}")
            direction = words[1].lower() if len(words) > 1 else "asc"
            if direction not in ("asc", "desc") or len(words) > 2:
                raise InvalidInput("order_by", f"{part.strip()!r}: give a field, then asc or desc")
            parts.append(f"`tab{meta.name}`.`{column}` {direction}")
        return ", ".join(parts) or None

    # --- writing -------------------------------------------------------------------------

    def insert(self, doctype: str, doc: Mapping[str, Any]) -> dict[str, Any]:
        meta = self.meta(doctype)
        if meta.issingle:
            self.update(doctype, doctype, doc)
            return self.get(doctype, doctype)
        values = self._doc_in(meta, doc)
        owner = doc.get("owner")
        document = frappe.get_doc({"doctype": doctype, **values})
        with self._mapped_errors(doctype, doc.get("name") or "new"):
            document.insert(ignore_permissions=True, set_name=doc.get("name") or None)
        if owner and document.owner != owner:
            self._set_owner(document, owner)
        return self._out(meta, document.as_dict())

    def _set_owner(self, document, owner: str) -> None:
        """Frappe stamps a new document's owner with the session user (a guest's booking:
        Guest); the core names the owner (an Event's host, whose calendar shows it)."""
        frappe.db.set_value(document.doctype, document.name, "owner", owner, update_modified=False)
        for child_doctype in set(self._tables(document.meta).values()):
            frappe.db.sql(
                f"update `tab{child_doctype}` set `owner` = %s where `parent` = %s and `parenttype` = %s",
                (owner, document.name, document.doctype),
            )
        document.owner = owner
        for row in document.get_all_children():
            row.owner = owner
        # Controllers that copied the owner while inserting refresh their copies: an
        # Event's timeline Communications name the owner as their sender.
        if callable(getattr(document, "sync_communication", None)):
            document.sync_communication()

    def update(self, doctype: str, name: str, values: Mapping[str, Any]) -> None:
        meta = self.meta(doctype)
        if meta.issingle:
            document = frappe.get_single(doctype)
        else:
            if not isinstance(name, str) or frappe.db.exists(doctype, name) != name:
                raise NotFound(f"{doctype} {name} not found")
            document = frappe.get_doc(doctype, name)
        document.update(self._doc_in(meta, values))
        if values.get("owner"):  # the one standard field a use-case changes (a reassigned Event)
            document.owner = values["owner"]
        with self._mapped_errors(doctype, name):
            document.save(ignore_permissions=True)

    def delete(self, doctype: str, name: str) -> None:
        self.meta(doctype)
        frappe.delete_doc(doctype, name, ignore_permissions=True, ignore_missing=True)

    @contextmanager
    def _mapped_errors(self, doctype: str, name: str) -> Iterator[None]:
        """Frappe's duplicate errors as the domain's DuplicateEntry (what the standalone
        store raises); the message Frappe queued for the response goes with it."""
        with _quiet(frappe.DuplicateEntryError, frappe.UniqueValidationError):
            try:
                yield
            except (frappe.DuplicateEntryError, frappe.UniqueValidationError) as error:
                raise DuplicateEntry(f"{doctype} {name} already exists or repeats a unique value") from error

    # --- conversion ----------------------------------------------------------------------

    def _doc_in(self, meta, doc: Mapping[str, Any]) -> dict[str, Any]:
        """The fields Frappe stores, converted; child tables row by row."""
        fields = self._fields(meta)
        tables = self._tables(meta)
        values: dict[str, Any] = {}
        for fieldname, value in doc.items():
            if fieldname in tables:
                child_meta = frappe.get_meta(tables[fieldname])
                values[fieldname] = [self._doc_in(child_meta, row) for row in value or []]
            elif fieldname in fields and fieldname not in STANDARD and fieldname not in CHILD_STANDARD:
                df = fields[fieldname]
                values[fieldname] = self._in(fieldname, df.fieldtype, value, length=df.length)
        return values

    def _in(self, fieldname: str, fieldtype: str, value: Any, *, length: Optional[int] = None, check_length=True) -> Any:
        try:
            value = self._convert(fieldtype, value)
        except InvalidInput as error:
            raise InvalidInput(fieldname, error.reason) from None
        except (TypeError, ValueError):
            raise InvalidInput(fieldname, f"{value!r} is not a valid {fieldtype}") from None
        if check_length and isinstance(value, str) and _is_varchar(fieldtype):
            limit = int(length or 0) or frappe.db.VARCHAR_LEN
            if len(value) > limit:
                raise InvalidInput(fieldname, f"is too long ({len(value)} characters, at most {limit})")
        return value

    def _convert(self, fieldtype: str, value: Any) -> Any:
        if value is None:
            return None
        if fieldtype == "Datetime":
            return self.to_frappe(value)
        if fieldtype == "Date":
            if isinstance(value, datetime):
                return value.date()
            if isinstance(value, str):
                return getdate(value) if value.strip() else None
            return value
        if fieldtype in ("Int", "Check"):
            if isinstance(value, bool):
                return int(value)
            return 0 if value == "" else int(value)
        if fieldtype == "JSON":
            return value if isinstance(value, str) else json.dumps(value, default=str)
        return value

    def count_by(
        self,
        doctype: str,
        filters: Optional[Mapping[str, Any]],
        field: str,
        latest: str = "creation",
        for_update: bool = False,
    ) -> dict[Any, tuple[int, Any]]:
        meta = self.meta(doctype)
        columns = self._columns(meta)
        for fieldname in (field, latest):
            if fieldname not in columns:
                raise InvalidInput("fields", f"{doctype} has no field {fieldname!r}")
        # Plain column names: Frappe's query builder reads a `tab...` inside max() as
        # another table to join.
        arguments = {
            "filters": self._filters(meta, filters or {}),
            "fields": [f"`{field}` as grouped", "count(*) as n", f"max(`{latest}`) as latest"],
            "group_by": f"`{field}`",
            "order_by": None,
            "limit_page_length": 0,
        }
        if for_update and self._depth() and frappe.db.db_type == "mariadb":
            # MariaDB's REPEATABLE READ would answer from the transaction's snapshot: a
            # locking read sees every commit so far (as list() does). PostgreSQL refuses
            # FOR UPDATE with GROUP BY, and its READ COMMITTED reads see the commits anyway.
            rows = frappe.db.sql(f"{frappe.get_all(doctype, run=False, **arguments)} for update", as_dict=True)
        else:
            rows = frappe.get_all(doctype, **arguments)
        return {row.grouped: (int(row.n), self._out(meta, {latest: row.latest})[latest]) for row in rows}

    def _out(self, meta, row: Mapping[str, Any]) -> dict[str, Any]:
        fields = self._fields(meta)
        tables = self._tables(meta)
        doc: dict[str, Any] = {}
        for key, value in row.items():
            if key.startswith("__"):
                continue
            fieldtype = "Datetime" if key in STAMPS else getattr(fields.get(key), "fieldtype", None)
            if key in tables:
                child_meta = frappe.get_meta(tables[key])
                value = [self._out(child_meta, child if isinstance(child, dict) else child.as_dict()) for child in value or []]
            elif fieldtype == "Datetime":
                value = self.to_utc(value)
            elif fieldtype == "Date" and isinstance(value, str) and value:
                value = getdate(value)
            elif fieldtype == "Time" and isinstance(value, timedelta):
                # Frappe's 24:00 (a day) becomes 00:00: an end of 00:00 is the next midnight.
                value = (datetime.min + value % timedelta(days=1)).time()
            elif fieldtype == "JSON" and isinstance(value, str) and value:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            doc[key] = value
        return doc


# --- helpers -----------------------------------------------------------------------------


def _is_varchar(fieldtype: str) -> bool:
    """Stored in a varchar column (Data, Link, Select, ...: 140 characters unless set)."""
    column = frappe.db.type_map.get(fieldtype)
    return bool(column) and column[0] == "varchar"


def is_conflict(error: BaseException) -> bool:
    """A deadlock or lock wait timeout anywhere in the chain (a failed ROLLBACK TO
    SAVEPOINT after InnoDB undid the transaction hides the deadlock behind it)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (frappe.QueryDeadlockError, frappe.QueryTimeoutError)):
            return True
        code = error.args[0] if getattr(error, "args", None) else None
        if type(error).__module__.startswith("pymysql") and code in MYSQL_CONFLICTS:
            return True
        error = error.__cause__ or error.__context__
    return False


def _after_commit_count() -> int:
    return len(getattr(frappe.db.after_commit, "_functions", ()))


def _drop_after_commit(count: int) -> None:
    """Forget the after-commit callbacks (queued jobs) added since `count`."""
    functions = getattr(frappe.db.after_commit, "_functions", None)
    while functions is not None and len(functions) > count:
        functions.pop()


@contextmanager
def _quiet(*classes: type[BaseException]) -> Iterator[None]:
    """Lookups that fail on purpose leave no message for the response: frappe.throw
    queues one in frappe.local.message_log before it raises."""
    classes = classes or (frappe.DoesNotExistError, NotFound)
    messages = len(getattr(frappe.local, "message_log", None) or [])
    try:
        yield
    except BaseException as error:
        if isinstance(error, classes) or isinstance(error.__cause__, classes):
            del frappe.local.message_log[messages:]
        raise
