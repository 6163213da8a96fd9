"""CalDAV calendars (Nextcloud, Fastmail, iCloud, Radicale, Xandikos ...) through the
`caldav` library: a URL, a username and an app password.

- Calendars: the account's calendar home (current-user-principal, calendar-home-set),
  one PROPFIND listing every collection with its name, components and the account's
  privileges. Only calendars that hold events and that the account can read are listed;
  `access_role` is "writer" when it may write, "reader" when it may read, and
  "freeBusyReader" when it may only ask for free/busy.
- Ids: a calendar's id is its URL path (its full URL when it lives on another host than
  the connection's URL, as iCloud's do); an event's id is its resource name inside the
  calendar (its path when it lives elsewhere).
- Busy times: a free-busy-query REPORT (RFC 4791 7.10) where the server answers it. Two
  shapes come back and both are read: FREEBUSY lines in one VFREEBUSY (the standard,
  Radicale 3.5 and later, Xandikos), and one VFREEBUSY per busy interval with DTSTART /
  DTEND and an FBTYPE (earlier Radicale). A server that refuses the report (Xandikos
  once answered 500) is asked for its events in the range instead (calendar-query),
  expanded here: recurrences with their exceptions, TRANSP:TRANSPARENT, STATUS:CANCELLED
  and invitations the account declined never block; all-day and floating times are read
  in the user's time zone. Free/busy-query answers come from the server, which applies
  the same rules except, on some servers, for declined invitations.
- Writes: an event is PUT at `<calendar>/<UID>.ics`, the UID being the booking's
  iCalendar UID, so a retried create overwrites what the first one made instead of
  adding a second event (and an event filed under that UID elsewhere is found by a
  UID query and updated in place). Cancelling deletes it; an event already gone is fine.
  ORGANIZER (the account, when it is an address) and ATTENDEEs are written so servers
  that schedule (RFC 6638: Nextcloud, iCloud, Fastmail) send the invitations.

- Changes (sync/): a sync-collection REPORT (RFC 6578) through caldav's
  get_objects_by_sync_token(token, load_objects=True, disable_fallback=True); updated
  members come with their data, removed ones as 404 hrefs (cancellations). A token the
  server refuses (DAV:valid-sync-token, a 403, 412 on Xandikos) raises SyncTokenExpired.
  A server without sync-collection is read by ETag instead: a PROPFIND of the members'
  ETags, compared with the map kept from the last pass, and a calendar-multiget of the
  new and changed ones; members no longer listed are deletions. The sync token says which:
  "sync:<server token>" or "etag:<base64 of zlib-compressed JSON {href: etag}>".
  The whole change set is one page (the library reads it in one go).
  One calendar object is one RemoteEvent: its master VEVENT (else its first), not expanded
  -- a recurring series is logged as one meeting at its first occurrence, its overrides
  (RECURRENCE-ID) are not logged separately. CREATED is the creation time (an object
  without CREATED is never taken as new, so it is not logged); STATUS:CANCELLED is a
  cancellation; ATTENDEE mailto: addresses (CUTYPE ROOM / RESOURCE left out) are attendees.

Errors are CalendarUnavailable with attributes the use-cases read:
- `field`: the connection field to blame when the account itself is wrong
  (caldav_url: no CalDAV server there; caldav_password: credentials refused);
- `calendars`: {calendar_id: message} when only some calendars failed (404: deleted at
  the provider), with `busy` holding what the others answered;
- `transient` and `retry_after`: 429 / 5xx / timeouts, worth retrying later.

The library is imported when first used, so this module loads without it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import zlib
from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import quote, unquote, urljoin, urlsplit
from zoneinfo import ZoneInfo

from ..errors import CalendarUnavailable, MeetingsError, SyncTokenExpired
from ..ports import ChangePage, Doc, RemoteEvent
from .settings import calendar_name

CONNECTION = "Calendar Connection"
TIMEOUT = 20  # seconds per request
UTC = timezone.utc
DAV, CALDAV = "DAV:", "urn:ietf:params:xml:ns:caldav"
# Servers that refused free-busy-query in this process: their events are read instead.
_NO_FREEBUSY: set[str] = set()
# Calendars whose server refused sync-collection in this process: read by ETag instead.
_NO_SYNC: set[str] = set()

PROPFIND_ETAGS = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>"""

MULTIGET = """<?xml version="1.0" encoding="utf-8"?>
<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
{hrefs}
</c:calendar-multiget>"""

PROPFIND_CALENDARS = """<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop>
    <d:resourcetype/>
    <d:displayname/>
    <d:current-user-privilege-set/>
    <c:supported-calendar-component-set/>
  </d:prop>
</d:propfind>"""

EVENTS_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter>
    <c:comp-filter name="VCALENDAR">
      <c:comp-filter name="VEVENT">
        <c:time-range start="{start}" end="{end}"/>
      </c:comp-filter>
    </c:comp-filter>
  </c:filter>
</c:calendar-query>"""

UID_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/></d:prop>
  <c:filter>
    <c:comp-filter name="VCALENDAR">
      <c:comp-filter name="VEVENT">
        <c:prop-filter name="UID"><c:text-match collation="i;octet">{uid}</c:text-match></c:prop-filter>
      </c:comp-filter>
    </c:comp-filter>
  </c:filter>
</c:calendar-query>"""


def unavailable(message: str, *, field: Optional[str] = None, transient: bool = False,
                retry_after: Optional[float] = None, status: Optional[int] = None) -> CalendarUnavailable:
    error = CalendarUnavailable(message)
    error.field = field
    error.transient = transient
    error.retry_after = retry_after
    error.status = status
    return error


def check_url(url: Any) -> str:
    """The CalDAV URL, or CalendarUnavailable naming caldav_url.

    https everywhere; plain http only to this machine (a local server, tests) or when
    MEETINGS_CALDAV_ALLOW_HTTP=1 says the network in between is trusted."""
    if not isinstance(url, str) or not url.strip():
        raise unavailable("enter the address of your CalDAV server (https://...)", field="caldav_url")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 1000:
        raise unavailable(f"{url[:200]!r} is not an http(s) address", field="caldav_url")
    if parts.scheme == "http" and not _loopback(parts.hostname) and os.environ.get("MEETINGS_CALDAV_ALLOW_HTTP") != "1":
        raise unavailable("use https: the password would cross the network unencrypted", field="caldav_url")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CalDAVCalendar:
    """One CalDAV account (ports.CalendarProvider)."""

    def __init__(self, url: str, username: str, password: str, *, zone: str = "UTC",
                 account: Optional[str] = None, timeout: float = TIMEOUT, services=None,
                 connection: Optional[Mapping[str, Any]] = None):
        self.services = services
        self.connection = connection or {}
        self.url = check_url(url)
        if not self.url.endswith("/"):
            self.url += "/"
        self.username = username or ""
        self.password = password or ""
        self.zone = ZoneInfo(zone or "UTC")
        self.account = account or self.username
        self.timeout = timeout
        self._client = None

    @classmethod
    def from_connection(cls, services, connection: Mapping[str, Any]) -> "CalDAVCalendar":
        """The adapter of a stored Calendar Connection (its password from services.secrets)."""
        password = None
        if services.secrets is not None and connection.get("name"):
            try:
                password = services.secrets.get(CONNECTION, connection["name"], "caldav_password")
            except MeetingsError as error:  # the server cannot decrypt it (no key): request mode, not an error page
                return _Broken(connection.get("caldav_url") or "", f"the saved password cannot be read: {error.message}")
        zone = services.store.get_value("User", {"name": connection.get("user")}, "time_zone") or "UTC"
        try:
            return cls(connection.get("caldav_url") or "", connection.get("caldav_username") or "", password or "",
                       zone=zone, account=connection.get("account"), services=services, connection=connection)
        except CalendarUnavailable:
            return _Broken(connection.get("caldav_url") or "")

    def _marked(self, fn, *args):
        """Run a call; a lasting failure is recorded on the stored connection (a calendar
        gone: that calendar Failing; refused credentials: the connection Error), so the
        settings show it and the owner is told. Passing trouble (timeouts, 5xx, 429) is not."""
        try:
            return fn(*args)
        except CalendarUnavailable as error:
            if self.services is not None and self.connection.get("name"):
                from ..connections import health

                for calendar_id, message in (getattr(error, "calendars", None) or {}).items():
                    health.mark_failing(self.services, self.connection, message, calendar_id=calendar_id)
                if not getattr(error, "calendars", None) and not getattr(error, "transient", False):
                    health.mark_failing(self.services, self.connection, f"CalDAV: {error.message}")
            raise

    def _name(self, calendar_id: str) -> str:
        return calendar_name(self.connection, calendar_id)

    # --- plumbing ---------------------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            import caldav

            self._client = caldav.DAVClient(
                url=self.url, username=self.username, password=self.password, timeout=self.timeout,
                enable_rfc6764=False,
            )
        return self._client

    def _absolute(self, calendar_id: str) -> str:
        url = urljoin(self.url, calendar_id)
        return url if url.endswith("/") else url + "/"

    def _relative(self, url: str) -> str:
        """A path when on the connection's host, else the whole URL."""
        mine, theirs = urlsplit(self.url), urlsplit(str(url))
        if (theirs.scheme, theirs.netloc) in (("", ""), (mine.scheme, mine.netloc)):
            return theirs.path
        return str(url)

    def _call(self, what: str, fn, *, calendar_id: Optional[str] = None):
        """Run a request; library and network errors become CalendarUnavailable."""
        try:
            return fn()
        except CalendarUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - mapped below, never swallowed
            raise self._map(error, what, calendar_id) from None

    def _map(self, error: Exception, what: str, calendar_id: Optional[str] = None) -> CalendarUnavailable:
        from caldav.lib import error as dav

        if isinstance(error, dav.RateLimitError):
            return unavailable(f"{what}: the server is busy (HTTP {error.status or 429}); retrying later",
                               transient=True, retry_after=error.retry_after_seconds, status=error.status)
        if isinstance(error, dav.AuthorizationError):
            return unavailable(f"{what}: the server refused the username and password (HTTP {error.status or 401}). "
                               "Enter a new app password.", field="caldav_password", status=error.status)
        if isinstance(error, dav.NotFoundError):
            if calendar_id:
                return _gone(calendar_id, self._name(calendar_id))
            return unavailable(f"{what}: nothing at {self.url} (HTTP 404); check the CalDAV address",
                               field="caldav_url", status=404)
        if isinstance(error, dav.DAVError):
            status = getattr(error, "status", None)
            return unavailable(f"{what}: the server answered HTTP {status or 'with an error'}",
                               transient=status is None or status >= 500, status=status,
                               field=None if calendar_id else "caldav_url")
        kind = type(error).__name__
        if isinstance(error, OSError) or kind in ("ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "SSLError"):
            # niquests' errors are OSErrors: refused, DNS, TLS, timeouts
            return unavailable(f"{what}: cannot reach {urlsplit(self.url).netloc} ({kind})", field="caldav_url",
                               transient=True)
        return unavailable(f"{what}: unexpected answer from the server ({kind}: {str(error)[:200]})",
                           field="caldav_url", transient=True)

    def _status(self, response, what: str, *, calendar_id: Optional[str] = None, ok=(200, 201, 204, 207)) -> None:
        status = response.status
        if status in ok:
            return
        if status == 404 and calendar_id:
            raise _gone(calendar_id, self._name(calendar_id))
        raise unavailable(f"{what}: the server answered HTTP {status}", transient=status >= 500 or status == 429, status=status)

    # --- calendars ----------------------------------------------------------------------

    def list_calendars(self) -> list[Doc]:
        def discover():
            principal = self.client.principal()
            return str(principal.calendar_home_set.url)

        home = self._call("Listing calendars", discover)
        response = self._call("Listing calendars", lambda: self.client.propfind(home, PROPFIND_CALENDARS, depth=1))
        self._status(response, "Listing calendars")
        found = []
        for href, props in _multistatus(response.tree):
            resourcetype = props.get(f"{{{DAV}}}resourcetype")
            if resourcetype is None or resourcetype.find(f"{{{CALDAV}}}calendar") is None:
                continue
            components = props.get(f"{{{CALDAV}}}supported-calendar-component-set")
            if components is not None and len(components) and not any(c.get("name") == "VEVENT" for c in components):
                continue  # a task list
            role = _access_role(props.get(f"{{{DAV}}}current-user-privilege-set"))
            if role is None:
                continue  # the account cannot read it
            url = urljoin(home, href)
            name = (props.get(f"{{{DAV}}}displayname").text if props.get(f"{{{DAV}}}displayname") is not None else None)
            found.append({
                "calendar_id": self._relative(url),
                "calendar_name": (name or unquote(url.rstrip("/").rsplit("/", 1)[-1]))[:140],
                "access_role": role,
                "is_default": 0,
            })
        writable = [row for row in found if row["access_role"] in ("owner", "writer")]
        if writable:
            writable[0]["is_default"] = 1
        return found

    # --- busy times -------------------------------------------------------------------------

    def busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        return self._marked(self._busy, calendar_ids, start, end)

    def _busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        result: dict[str, list[tuple[datetime, datetime]]] = {}
        gone: dict[str, str] = {}
        for calendar_id in calendar_ids:
            try:
                result[calendar_id] = self._busy_one(calendar_id, start, end)
            except CalendarUnavailable as error:
                if getattr(error, "calendars", None):
                    gone.update(error.calendars)
                    continue
                raise  # the account or the server: every calendar fails alike
        if gone:
            error = unavailable("; ".join(gone.values()))
            error.calendars = gone
            error.busy = result
            raise error
        return result

    def _busy_one(self, calendar_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        url = self._absolute(calendar_id)
        if url not in _NO_FREEBUSY:
            from caldav.lib import error as dav

            answer = None
            try:
                answer = self.client.calendar(url=url).freebusy_request(start, end)
            except (dav.RateLimitError, dav.NotFoundError) as error:
                raise self._map(error, "Reading free/busy", calendar_id) from None
            except dav.AuthorizationError as error:
                if error.status != 403:  # a 403 may mean "no such report here": read the events
                    raise self._map(error, "Reading free/busy", calendar_id) from None
            except dav.DAVError:
                pass  # refused (500, 501, 403 supported-report ...): read the events
            except Exception as error:  # noqa: BLE001 - the network
                raise self._map(error, "Reading free/busy", calendar_id) from None
            busy = parse_freebusy(getattr(answer, "data", None), start, end, self.zone) if answer is not None else None
            if busy is not None:
                return busy
            _NO_FREEBUSY.add(url)
        return self._busy_from_events(calendar_id, url, start, end)

    def _busy_from_events(self, calendar_id: str, url: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        body = EVENTS_QUERY.format(start=_stamp(start), end=_stamp(end))
        response = self._call("Reading events", lambda: self.client.report(url, body, depth=1), calendar_id=calendar_id)
        self._status(response, "Reading events", calendar_id=calendar_id)
        busy: list[tuple[datetime, datetime]] = []
        for _href, props in _multistatus(response.tree):
            data = props.get(f"{{{CALDAV}}}calendar-data")
            if data is not None and data.text:
                busy.extend(busy_from_ics(data.text, start, end, self.zone, self.account))
        return sorted(busy)

    # --- events -------------------------------------------------------------------------------

    def create_event(self, calendar_id: str, event: Mapping[str, Any]) -> Doc:
        return self._marked(self._create, calendar_id, event)

    def _create(self, calendar_id: str, event: Mapping[str, Any]) -> Doc:
        calendar = self._absolute(calendar_id)
        href = urljoin(calendar, quote(str(event["uid"]), safe="") + ".ics")
        body = event_ics(event, organizer=self.account)
        try:
            self._put(href, body, calendar_id)
        except CalendarUnavailable as error:
            if getattr(error, "status", None) not in (403, 409, 412):
                raise
            # Another resource of this calendar holds the UID: update that one.
            existing = self._find_uid(calendar, str(event["uid"]), calendar_id)
            if not existing:
                raise
            href = existing
            self._put(href, body, calendar_id)
        return {"id": self._event_id(calendar, href), "uid": event["uid"]}

    def update_event(self, calendar_id: str, event_id: str, event: Mapping[str, Any]) -> Doc:
        return self._marked(self._update, calendar_id, event_id, event)

    def _update(self, calendar_id: str, event_id: str, event: Mapping[str, Any]) -> Doc:
        calendar = self._absolute(calendar_id)
        href = urljoin(calendar, event_id)
        self._put(href, event_ics(event, organizer=self.account), calendar_id)
        return {"id": event_id, "uid": event.get("uid")}

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        href = urljoin(self._absolute(calendar_id), event_id)
        response = self._call("Cancelling the event", lambda: self.client.delete(href))
        self._status(response, "Cancelling the event", ok=(200, 204, 404, 410))

    def _put(self, href: str, body: str, calendar_id: str) -> None:
        from caldav.lib import error as dav

        def put():
            try:
                return self.client.put(href, body, {"Content-Type": "text/calendar; charset=utf-8"})
            except dav.AuthorizationError as error:
                if error.preconditions and any("uid" in p for p in error.preconditions):
                    raise unavailable("another event holds this UID", status=403) from None
                raise

        response = self._call("Writing the event", put)
        if response.status == 404:
            raise _gone(calendar_id, self._name(calendar_id))
        self._status(response, "Writing the event", ok=(200, 201, 204))

    def _find_uid(self, calendar: str, uid: str, calendar_id: str) -> Optional[str]:
        body = UID_QUERY.format(uid=_xml_text(uid))
        response = self._call("Finding the event", lambda: self.client.report(calendar, body, depth=1), calendar_id=calendar_id)
        self._status(response, "Finding the event", calendar_id=calendar_id)
        for href, _props in _multistatus(response.tree):
            return urljoin(calendar, href)
        return None

    def _event_id(self, calendar: str, href: str) -> str:
        if href.startswith(calendar):
            return href[len(calendar):]
        return self._relative(href)


    # --- changes (sync/) --------------------------------------------------------------------

    def changes(self, calendar_id: str, sync_token: Optional[str] = None, page_token: Optional[str] = None,
                page_size: int = 250) -> ChangePage:
        """Everything (a full sync) or what changed since sync_token, as one page (see the
        module docstring). A refused token raises SyncTokenExpired."""
        return self._marked(self._changes, calendar_id, sync_token)

    def _changes(self, calendar_id: str, sync_token: Optional[str]) -> ChangePage:
        url = self._absolute(calendar_id)
        etags = _etag_map(sync_token) if sync_token and sync_token.startswith("etag:") else None
        if etags is None and url not in _NO_SYNC:
            token = sync_token[len("sync:"):] if sync_token and sync_token.startswith("sync:") else None
            page = self._by_sync_token(calendar_id, url, token)
            if page is not None:
                return page
            _NO_SYNC.add(url)
            if token:  # the server stopped answering sync-collection: start over by ETag
                raise SyncTokenExpired(f"CalDAV: {self._name(calendar_id)} no longer answers sync-collection")
        return self._by_etags(calendar_id, url, etags or {})

    def _by_sync_token(self, calendar_id: str, url: str, token: Optional[str]) -> Optional[ChangePage]:
        """A sync-collection pass; None when the server does not do sync-collection."""
        from caldav.elements import dav as elements
        from caldav.lib import error as dav

        calendar = self.client.calendar(url=url)
        try:
            found = calendar.get_objects_by_sync_token(token, load_objects=True, disable_fallback=True)
        except (dav.DAVError, dav.ReportError) as error:
            preconditions = getattr(error, "preconditions", None) or ()
            if token and (elements.ValidSyncToken.tag in preconditions or getattr(error, "status", None) in (403, 412)
                          or "valid-sync-token" in str(error)):
                raise SyncTokenExpired(f"CalDAV: sync token of {self._name(calendar_id)} refused") from None
            status = getattr(error, "status", None)
            if isinstance(error, (dav.RateLimitError, dav.NotFoundError)) or (status and (status >= 500 or status == 401)):
                raise self._map(error, "Reading changes", calendar_id) from None
            if isinstance(error, dav.AuthorizationError) and preconditions and elements.SupportedReport.tag not in preconditions:
                raise self._map(error, "Reading changes", calendar_id) from None
            return None  # no sync-collection here (not supported, 403 supported-report, 501 ...)
        except Exception as error:  # noqa: BLE001 - the network
            raise self._map(error, "Reading changes", calendar_id) from None
        deleted = {str(u) for u in getattr(found, "deleted_urls", ())}
        events: list[RemoteEvent] = []
        for obj in found.objects:
            event_id = self._sync_id(url, str(obj.url))
            data = getattr(obj, "data", None) if str(obj.url.canonical()) not in deleted else None
            if not data:  # removed (a 404 href), or gone before it could be read
                events.append(RemoteEvent(id=event_id, status="cancelled"))
                continue
            event = remote_event(data, event_id, self.zone)
            if event is not None:
                events.append(event)
        if not found.sync_token:
            return None
        return ChangePage(events, next_sync_token=f"sync:{found.sync_token}")

    def _by_etags(self, calendar_id: str, url: str, known: dict[str, str]) -> ChangePage:
        response = self._call("Reading changes", lambda: self.client.propfind(url, PROPFIND_ETAGS, depth=1),
                              calendar_id=calendar_id)
        self._status(response, "Reading changes", calendar_id=calendar_id)
        current: dict[str, str] = {}
        own = urlsplit(url).path.rstrip("/")
        for href, props in _multistatus(response.tree):
            kind = props.get(f"{{{DAV}}}resourcetype")
            if urlsplit(urljoin(url, href)).path.rstrip("/") == own or (kind is not None and len(kind)):
                continue  # the collection itself, or a sub-collection
            etag = props.get(f"{{{DAV}}}getetag")
            current[self._sync_id(url, urljoin(url, href))] = etag.text if etag is not None and etag.text else ""
        changed = [event_id for event_id, etag in current.items() if known.get(event_id) != etag or not etag]
        events = [RemoteEvent(id=event_id, status="cancelled") for event_id in known if event_id not in current]
        for i in range(0, len(changed), 100):
            hrefs = "\n".join(f"  <d:href>{_xml_text(urlsplit(urljoin(url, quote(e, safe='/@:'))).path)}</d:href>"
                              for e in changed[i:i + 100])
            answer = self._call("Reading changes", lambda: self.client.report(url, MULTIGET.format(hrefs=hrefs), depth=1),
                                calendar_id=calendar_id)
            self._status(answer, "Reading changes", calendar_id=calendar_id)
            for href, props in _multistatus(answer.tree):
                data = props.get(f"{{{CALDAV}}}calendar-data")
                if data is None or not data.text:
                    continue
                event = remote_event(data.text, self._sync_id(url, urljoin(url, href)), self.zone)
                if event is not None:
                    events.append(event)
        return ChangePage(events, next_sync_token="etag:" + _pack(current))

    def _sync_id(self, calendar_url: str, href: str) -> str:
        """An event's id in the change feed: its resource name, percent-decoded, so the
        sync-collection and ETag paths (and servers that encode differently) agree."""
        path, base = unquote(urlsplit(href).path), unquote(urlsplit(calendar_url).path)
        return path[len(base):] if path.startswith(base) else unquote(self._relative(href))


def _pack(etags: Mapping[str, str]) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(etags, sort_keys=True).encode(), 9)).decode()


def _etag_map(token: str) -> dict[str, str]:
    try:
        return dict(json.loads(zlib.decompress(base64.urlsafe_b64decode(token[len("etag:"):].encode()))))
    except Exception:  # noqa: BLE001 - unreadable: a full pass
        return {}


def remote_event(data: Any, event_id: str, zone: ZoneInfo = ZoneInfo("UTC")) -> Optional[RemoteEvent]:
    """One calendar object as the sync sees it (its master VEVENT; see the module
    docstring); None when it holds no VEVENT (a task) or cannot be read."""
    import icalendar

    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    try:
        vevents = [c for cal in icalendar.Calendar.from_ical(data, multiple=True) for c in cal.walk("VEVENT")]
    except Exception:  # noqa: BLE001 - one unreadable object does not stop the sync
        return None
    if not vevents:
        return None
    master = next((v for v in vevents if v.get("RECURRENCE-ID") is None), vevents[0])
    span = _span(master, zone)
    created = master.get("CREATED")
    created_at = None
    if created is not None and isinstance(created.dt, datetime):
        created_at = (created.dt.replace(tzinfo=UTC) if created.dt.tzinfo is None else created.dt).astimezone(UTC)
    status = str(master.get("STATUS") or "CONFIRMED").upper()
    attendees = master.get("ATTENDEE")
    emails = []
    for attendee in attendees if isinstance(attendees, list) else [attendees] if attendees is not None else []:
        if str(attendee.params.get("CUTYPE", "INDIVIDUAL")).upper() in ("ROOM", "RESOURCE"):
            continue
        address = str(attendee)
        if address.lower().startswith("mailto:"):
            emails.append(address[7:].strip().lower())
    organizer = str(master.get("ORGANIZER") or "")
    return RemoteEvent(
        id=event_id,
        status={"CANCELLED": "cancelled", "TENTATIVE": "tentative"}.get(status, "confirmed"),
        ical_uid=str(master.get("UID")) if master.get("UID") is not None else None,
        summary=str(master.get("SUMMARY") or ""),
        description=str(master.get("DESCRIPTION") or ""),
        start=span[0] if span else None,
        end=span[1] if span else None,
        created=created_at,
        attendees=list(dict.fromkeys(e for e in emails if e)),
        organizer=organizer[7:].lower() if organizer.lower().startswith("mailto:") else None,
    )


class _Broken:
    """A stored connection that cannot be used as it is (an address no longer accepted,
    a password the server cannot decrypt): every call says so, and the page takes requests."""

    def __init__(self, url: str, reason: Optional[str] = None):
        self.url = url
        self.reason = reason or f"the CalDAV address {url[:200]!r} is not valid; reconnect the calendar"

    def _fail(self, *args, **kwargs):
        raise unavailable(self.reason, field="caldav_url", transient=True)

    list_calendars = busy = create_event = update_event = cancel_event = changes = _fail


def _gone(calendar_id: str, name: Optional[str] = None) -> CalendarUnavailable:
    message = f"CalDAV: calendar {name or calendar_id} no longer exists on the server (HTTP 404)"
    error = unavailable(message, status=404)
    error.calendars = {calendar_id: message}
    error.calendar_id = calendar_id
    return error


# --- XML --------------------------------------------------------------------------------------


def _multistatus(tree) -> list[tuple[str, dict[str, Any]]]:
    """(href, {property tag: element}) for each response with a 200 propstat."""
    found = []
    if tree is None:
        return found
    for response in tree.iter(f"{{{DAV}}}response"):
        href = response.findtext(f"{{{DAV}}}href") or ""
        props: dict[str, Any] = {}
        for propstat in response.iter(f"{{{DAV}}}propstat"):
            status = propstat.findtext(f"{{{DAV}}}status") or ""
            if " 200 " not in status + " ":
                continue
            for prop in propstat.iter(f"{{{DAV}}}prop"):
                for child in prop:
                    props[child.tag] = child
        found.append((href, props))
    return found


def _access_role(privileges) -> Optional[str]:
    """owner / writer / reader / freeBusyReader from DAV:current-user-privilege-set;
    None when the account may not even read free/busy. A server that does not say is
    taken at its word that the calendar is the account's own."""
    if privileges is None:
        return "owner"
    names = {child.tag for privilege in privileges for child in privilege}
    if f"{{{DAV}}}all" in names:
        return "owner"
    writes = {f"{{{DAV}}}write", f"{{{DAV}}}write-content", f"{{{DAV}}}bind"}
    if names & writes:
        return "writer"
    if f"{{{DAV}}}read" in names:
        return "reader"
    if f"{{{CALDAV}}}read-free-busy" in names:
        return "freeBusyReader"
    return None


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- iCalendar ------------------------------------------------------------------------------


def _instant(value: Any, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    from ..scheduling import all_day

    return all_day(value, value + timedelta(days=1), zone)[0]


def _blocks(fbtype: str) -> bool:
    # BUSY, BUSY-UNAVAILABLE and BUSY-TENTATIVE block (a tentative meeting is a real one);
    # FREE does not, and unknown types are busy (RFC 5545 3.2.9).
    return fbtype.upper() != "FREE"


def parse_freebusy(data: Any, start: datetime, end: datetime, zone: ZoneInfo) -> Optional[list[tuple[datetime, datetime]]]:
    """Busy intervals in a free-busy-query answer, clipped to [start, end); None when
    the answer is not a VFREEBUSY at all (then the events are read instead)."""
    import icalendar

    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if not isinstance(data, str) or "BEGIN:VCALENDAR" not in data.upper():
        return None
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception:  # noqa: BLE001 - unreadable: read the events instead
        return None
    components = [c for cal in calendars for c in cal.walk("VFREEBUSY")]
    if not components and not any(cal.walk("VEVENT") for cal in calendars):
        # Earlier Radicale: no busy time, no VFREEBUSY. Anything else is not free/busy.
        return [] if calendars else None
    busy: list[tuple[datetime, datetime]] = []
    for component in components:
        lines = component.get("FREEBUSY")
        if lines is not None:
            for line in lines if isinstance(lines, list) else [lines]:
                fbtype = str(line.params.get("FBTYPE", "BUSY"))
                if not _blocks(fbtype):
                    continue
                for first, last in _periods(line, zone):
                    busy.append((first, last))
            continue
        # One VFREEBUSY per busy interval (earlier Radicale): DTSTART / DTEND + FBTYPE.
        first, last = component.get("DTSTART"), component.get("DTEND")
        if first is None or last is None:
            continue
        fbtype = component.get("FBTYPE") or first.params.get("FBTYPE")
        first, last = _instant(first.dt, zone), _instant(last.dt, zone)
        if fbtype is None and (first, last) == (start, end):
            continue  # the standard shape with no busy time: the range itself
        if _blocks(str(fbtype or "BUSY")):
            busy.append((first, last))
    return sorted((max(a, start), min(b, end)) for a, b in busy if a < end and b > start and a < b)


def _periods(line, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The periods of one FREEBUSY property (a list, each start/end or start/duration)."""
    from icalendar.prop import vPeriod

    raw = line.to_ical().decode() if hasattr(line, "to_ical") else str(line)
    periods = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            first, second = vPeriod.from_ical(part)
        except Exception:  # noqa: BLE001 - a malformed period is skipped, not fatal
            continue
        last = first + second if isinstance(second, timedelta) else second
        periods.append((_instant(first, zone), _instant(last, zone)))
    return periods


def busy_from_ics(data: str, start: datetime, end: datetime, zone: ZoneInfo, account: str = "") -> list[tuple[datetime, datetime]]:
    """The blocking occurrences of the events in one calendar object, in [start, end)."""
    import icalendar
    import recurring_ical_events

    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except Exception:  # noqa: BLE001 - one unreadable object does not hide the others
        return []
    me = f"mailto:{account}".lower() if account and "@" in account else None
    busy = []
    for cal in calendars:
        try:
            occurrences = recurring_ical_events.of(cal, skip_bad_series=True).between(start, end)
        except Exception:  # noqa: BLE001
            continue
        for event in occurrences:
            if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
                continue
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                continue
            if me and _declined(event, me):
                continue
            span = _span(event, zone)
            if span and span[0] < end and span[1] > start:
                busy.append((max(span[0], start), min(span[1], end)))
    return busy


def _declined(event, me: str) -> bool:
    attendees = event.get("ATTENDEE")
    for attendee in attendees if isinstance(attendees, list) else [attendees] if attendees is not None else []:
        if str(attendee).lower() == me and str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED":
            return True
    return False


def _span(event, zone: ZoneInfo) -> Optional[tuple[datetime, datetime]]:
    from ..scheduling import all_day

    first = event.get("DTSTART")
    if first is None:
        return None
    first = first.dt
    last = event.get("DTEND").dt if event.get("DTEND") is not None else None
    if last is None and event.get("DURATION") is not None:
        last = first + event.get("DURATION").dt
    if isinstance(first, date) and not isinstance(first, datetime):
        if not (isinstance(last, date) and not isinstance(last, datetime) and last > first):
            last = first + timedelta(days=1)
        return all_day(first, last, zone)
    begin = _instant(first, zone)
    finish = _instant(last, zone) if isinstance(last, datetime) else begin
    return (begin, finish) if finish > begin else None


def event_ics(event: Mapping[str, Any], *, organizer: Optional[str] = None) -> str:
    """The booking's event as an iCalendar object (UTC times, the booking's UID)."""
    import icalendar

    cal = icalendar.Calendar()
    cal.add("prodid", "-//meetings_addon//Meetings//EN")
    cal.add("version", "2.0")
    vevent = icalendar.Event()
    vevent.add("uid", str(event["uid"]))
    vevent.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
    vevent.add("dtstart", event["start"].astimezone(UTC))
    vevent.add("dtend", event["end"].astimezone(UTC))
    vevent.add("sequence", int(event.get("sequence") or 0))
    vevent.add("summary", event.get("summary") or "Meeting")
    if event.get("description"):
        vevent.add("description", event["description"])
    if event.get("location"):
        vevent.add("location", event["location"])
    vevent.add("status", "CONFIRMED")
    vevent.add("transp", "OPAQUE")
    if organizer and "@" in organizer:
        vevent.add("organizer", icalendar.vCalAddress(f"mailto:{organizer}"))
    for email in event.get("attendees") or ():
        attendee = icalendar.vCalAddress(f"mailto:{email}")
        attendee.params["ROLE"] = icalendar.vText("REQ-PARTICIPANT")
        attendee.params["PARTSTAT"] = icalendar.vText("NEEDS-ACTION")
        attendee.params["RSVP"] = icalendar.vText("TRUE")
        vevent.add("attendee", attendee, encode=0)
    cal.add_component(vevent)
    return cal.to_ical().decode()
