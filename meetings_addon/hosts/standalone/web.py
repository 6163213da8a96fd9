"""The standalone host's HTTP surface: the same routes and shapes Frappe serves.

- `GET /api/method/ping` -> {"message": "pong"}
- `/api/method/meetings_addon.api.booking.<fn>` (get_link, get_slots, manage: GET or POST;
  book, cancel, reschedule: POST) -> {"message": result}. Guest methods, rate-limited per
  client address. `calendar_file?token=` (GET) answers the booking's .ics as a download.
- `/api/resource/<DocType>[/<name>]` with `Authorization: token <key>:<secret>`
  (web_resource.py).
- `GET /meetings/<slug>`, `GET /meetings/manage/<token>`: the booking page, the same
  template and context Frappe renders (meetings_addon/booking_page.py); 404 for an unknown
  or unpublished link. A link with a custom domain answers 301 there from any other host;
  `GET /meetings` on a custom domain answers 302 to its link (domains.py). X-Robots-Tag:
  noindex, nofollow on a link kept out of search and on every manage page.
- `GET /robots.txt`: the file MEETINGS_ROBOTS_TXT names, else `Disallow: /api/`.
- `GET /assets/meetings_addon/<path>`: the app's public/ folder, where Frappe serves it
  (the page's script and stylesheet, embed.js). Versioned URLs (`?v=`) are cached for a
  year; others are revalidated (ETag). Nothing outside public/ is ever served.

Errors answer as Frappe does: the HTTP status of the domain exception and a body with
`exc_type`, `exception` and `_server_messages` (a JSON list of JSON messages), plus
`field` when a field is wrong. An unexpected exception is a 500 with a generic message
and a reference; its traceback goes to the log, never to the client.

A WSGI application (Werkzeug); `meetings serve` runs it with waitress, threaded.

Behind a reverse proxy (waitress has no TLS; custom domains are https): with
MEETINGS_TRUSTED_PROXIES=N (or `meetings serve --proxy-hops N`) the app believes the
last N proxies' X-Forwarded-For/-Host/-Proto (werkzeug's ProxyFix), so the Host a
visitor asked for decides the custom-domain redirect and the rate limit counts per
visitor. Unset (0), those headers are ignored: a client cannot spoof its host.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.security import safe_join
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from ... import booking_page, domains
from ...booking import service
from ...connections.manage import HTTP_METHODS as ACCOUNT_METHODS
from ...errors import DuplicateEntry, InvalidInput, InvalidRule, MeetingsError, NotFound
from ...ports import Services
from . import web_resource
from .auth import AuthenticationError, authenticate
from .web_resource import PermissionDenied, format_value, is_admin

log = logging.getLogger("meetings_addon.web")

BOOKING_API = "meetings_addon.api.booking."
REMINDER_PREVIEW = "meetings_addon.api.reminders.preview_reminder"
SYNC_PUSH = ("meetings_addon.api.sync.google_push", "meetings_addon.api.sync.graph_push")
MAX_BODY = 1024 * 1024  # a booking is a few hundred bytes; a link with every table a few KB
TEMPLATES = booking_page.TEMPLATE_DIR
PUBLIC = booking_page.PUBLIC
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
               ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif",
               ".ico": "image/x-icon", ".woff2": "font/woff2", ".json": "application/json", ".map": "application/json"}
PAGE_CSP = ("default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'")

# Guest requests a minute per client address. A visitor's page makes two calls on load
# (get_link, get_slots), one more per week they browse and one to book: even a restless
# visitor stays under 30 a minute, and 120 leaves room for several visitors behind one
# office NAT. A script, though, is held to 2 requests a second: too slow to scrape every
# link's free/busy or flood a host with bookings, which is what the limit is for.
DEFAULT_GUEST_RATE_LIMIT = 120
DEFAULT_ROBOTS_TXT = "User-agent: *\nDisallow: /api/\n"

# Frappe's names for the exceptions whose class names differ from Frappe's.
EXC_TYPES = {
    NotFound: "DoesNotExistError",
    DuplicateEntry: "DuplicateEntryError",
    AuthenticationError: "AuthenticationError",
    PermissionDenied: "PermissionError",
    web_resource.LinkExists: "LinkExistsError",
}
TITLES = {400: "Invalid Request", 401: "Not Logged In", 403: "Not Permitted", 404: "Not Found", 409: "Not Available",
          413: "Too Large", 417: "Invalid Input", 429: "Too Many Requests", 503: "Unavailable"}


class BadRequest(MeetingsError):
    """The request itself is malformed (not JSON, not an object): 400, naming the part."""

    http_status = 400

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class RateLimited(MeetingsError):
    http_status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"Too many requests: please wait {retry_after} seconds and try again.")
        self.retry_after = retry_after


class MethodNotFound(NotFound):
    pass


EXC_TYPES[RateLimited] = "RateLimitExceededError"  # Frappe's name, as the Frappe host answers


# --- rate limit -------------------------------------------------------------------------


class RateLimiter:
    """At most `limit` hits per `period` seconds per key: a sliding log of hit times."""

    def __init__(self, limit: int, period: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.period = period
        self.clock = clock
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def hit(self, key: str) -> Optional[int]:
        """None when allowed (and counted); else the seconds to wait (Retry-After)."""
        if self.limit <= 0:
            return None
        now = self.clock()
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:
                self._prune(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.period:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.period - now))
            hits.append(now)
            return None

    def _prune(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.period]:
            del self._hits[key]


def resolve_guest_rate_limit(value: Optional[int] = None) -> int:
    """The flag's value, else MEETINGS_GUEST_RATE_LIMIT, else the default."""
    if value is not None:
        return value
    env = os.environ.get("MEETINGS_GUEST_RATE_LIMIT", "").strip()
    if not env:
        return DEFAULT_GUEST_RATE_LIMIT
    if not env.isdigit():
        raise InvalidInput("MEETINGS_GUEST_RATE_LIMIT", f"{env!r} is not a whole number of requests a minute (0 = no limit)")
    return int(env)


def resolve_proxy_hops(value: Optional[int] = None) -> int:
    """The flag's value, else MEETINGS_TRUSTED_PROXIES, else 0 (no proxy trusted)."""
    if value is not None:
        return value
    env = os.environ.get("MEETINGS_TRUSTED_PROXIES", "").strip()
    if not env:
        return 0
    if not env.isdigit():
        raise InvalidInput("MEETINGS_TRUSTED_PROXIES", f"{env!r} is not a whole number of proxy hops (0 = none)")
    return int(env)


# --- responses --------------------------------------------------------------------------


def to_json(value: Any) -> str:
    return json.dumps(value, default=format_value, ensure_ascii=False)


def json_response(body: Any, status: int = 200, headers: Optional[Mapping[str, str]] = None) -> Response:
    response = Response(to_json(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def download_response(download: "Download") -> Response:
    """A file as Frappe's as_raw() sends it: its type and Content-Disposition: attachment."""
    content_type = download.content_type
    if content_type.startswith("text/") and "charset=" not in content_type:
        content_type += "; charset=utf-8"  # as Werkzeug's mimetype setter adds it in Frappe
    response = Response(download.content, status=200, content_type=content_type)
    response.headers.set("Content-Disposition", "attachment", filename=download.filename)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def error_response(exc_type: str, message: str, status: int, *, field: Optional[str] = None,
                   headers: Optional[Mapping[str, str]] = None, title: Optional[str] = None) -> Response:
    """Frappe's error body: exc_type, exception, _server_messages (JSON of JSON)."""
    body: dict[str, Any] = {
        "exc_type": exc_type,
        "exception": f"{exc_type}: {message}",
        "_server_messages": json.dumps(
            [json.dumps({"message": message, "title": title or TITLES.get(status, "Error"), "indicator": "red", "raise_exception": 1})]
        ),
    }
    if field:
        body["field"] = field
    return json_response(body, status, headers)


def exception_response(error: MeetingsError) -> Response:
    exc_type = next((name for cls, name in EXC_TYPES.items() if isinstance(error, cls)), type(error).__name__)
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = 'Token realm="meetings"'
    title = "Invalid Rule" if isinstance(error, InvalidRule) else None  # as hosts/frappe/errors.py titles it
    return error_response(exc_type, error.message, error.http_status, field=getattr(error, "field", None), headers=headers,
                          title=title)


# --- the application -------------------------------------------------------------------


def _manage(services: Services, payload: Mapping[str, Any]) -> Any:
    return service.manage_view(services, payload.get("token"))


class Download:
    """A method's answer that is a file, not JSON (Frappe's response type "download")."""

    def __init__(self, filename: str, content: bytes, content_type: str):
        self.filename, self.content, self.content_type = filename, content, content_type


def _calendar_file(services: Services, payload: Mapping[str, Any]) -> Download:
    from ...notifications.ics import calendar_file

    return Download(*calendar_file(services, payload.get("token")))


# fn -> (HTTP methods, use-case(services, payload))
BOOKING_METHODS: dict[str, tuple[tuple[str, ...], Callable[[Services, Mapping[str, Any]], Any]]] = {
    "get_link": (("GET", "POST"), lambda services, payload: service.get_link(services, payload.get("link"))),
    "get_slots": (("GET", "POST"), service.get_slots),
    "book": (("POST",), service.book),
    "cancel": (("POST",), service.cancel),
    "reschedule": (("POST",), service.reschedule),
    "manage": (("GET", "POST"), _manage),
    "calendar_file": (("GET",), _calendar_file),
}


class MeetingsApp:
    """WSGI application over one Services bundle."""

    def __init__(self, services: Services, *, guest_rate_limit: Optional[int] = None, proxy_hops: Optional[int] = None):
        self.services = services
        self.limiter = RateLimiter(resolve_guest_rate_limit(guest_rate_limit))
        self.proxy_hops = resolve_proxy_hops(proxy_hops)
        hops = self.proxy_hops
        # Only the proxies we were told about may say which host and scheme a visitor used.
        self._wsgi = ProxyFix(self._serve, x_for=hops, x_proto=hops, x_host=hops) if hops else self._serve
        self.url_map = Map(
            [
                Rule("/api/method/<path:method>", endpoint="method", methods=("GET", "POST", "PUT", "DELETE")),
                Rule("/api/resource/<doctype>", endpoint="collection", methods=("GET", "POST")),
                Rule("/api/resource/<doctype>/<path:name>", endpoint="document", methods=("GET", "PUT", "DELETE")),
                Rule("/assets/meetings_addon/<path:path>", endpoint="asset", methods=("GET", "HEAD")),
                Rule("/meetings/manage/<path:token>", endpoint="manage_page", methods=("GET",)),
                Rule("/meetings/<slug>", endpoint="link_page", methods=("GET",)),
                Rule("/meetings", endpoint="domain_page", methods=("GET",)),
                Rule("/robots.txt", endpoint="robots_txt", methods=("GET", "HEAD")),
            ],
            strict_slashes=False,
        )
        self.templates = Environment(
            loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True, default_for_string=True)
        )

    def __call__(self, environ, start_response):
        return self._wsgi(environ, start_response)

    def _serve(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_BODY
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
            return getattr(self, f"on_{endpoint}")(request, **values)
        except MeetingsError as error:
            return exception_response(error)
        except RequestRedirect as redirect:  # a doubled slash: the same route, tidied
            return redirect.get_response(request.environ)
        except RequestEntityTooLarge:
            return error_response("ValidationError", f"The request body is larger than {MAX_BODY // 1024} KB", 413, field="body")
        except HTTPException as error:  # routing: 404 / 405 in Frappe's shape
            exc_type = {404: "DoesNotExistError", 405: "PermissionError"}.get(error.code or 500, "ValidationError")
            headers = {"Allow": ", ".join(error.valid_methods)} if getattr(error, "valid_methods", None) else None
            return error_response(exc_type, error.description or error.name, error.code or 500, headers=headers)
        except Exception:  # noqa: BLE001 - a 500 is a bug: logged in full, told in brief
            reference = secrets.token_hex(4)
            path = "/meetings/manage/…" if request.path.startswith("/meetings/manage/") else request.path  # no tokens in logs
            log.exception("unexpected error %s on %s %s", reference, request.method, path)
            return error_response(
                "ServerError", f"Something went wrong on our side. Please try again later (reference {reference}).", 500
            )

    # --- helpers ---

    def _limit(self, request: Request) -> None:
        wait = self.limiter.hit(request.remote_addr or "unknown")
        if wait is not None:
            raise RateLimited(wait)

    def _payload(self, request: Request) -> dict[str, Any]:
        """Frappe's form_dict: query parameters, then the JSON or form body over them."""
        return {**request.args.to_dict(), **self._body(request)}

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        """A JSON object or form fields; 400 naming the body when it is neither."""
        if request.method not in ("POST", "PUT"):
            return {}
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return request.form.to_dict()
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise BadRequest("body", "is not valid JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("body", "must be a JSON object")
        return body

    def _user(self, request: Request) -> str:
        user = authenticate(self.services, request.headers.get("Authorization"))
        if user is None:
            raise PermissionDenied("Not permitted: send `Authorization: token <api_key>:<api_secret>`")
        return user

    # --- /api/method ---

    def on_method(self, request: Request, method: str) -> Response:
        if method == "ping":
            return json_response({"message": "pong"})
        if method == "frappe.auth.get_logged_user":
            return json_response({"message": self._user(request)})
        if method in ACCOUNT_METHODS:
            return self._account_method(request, method)
        if method == REMINDER_PREVIEW:
            return self._reminder_preview(request)
        if method in SYNC_PUSH:
            return self._push(request, method)
        if not method.startswith(BOOKING_API) or method[len(BOOKING_API):] not in BOOKING_METHODS:
            raise MethodNotFound(f"Failed to get method for command {method[:200]}")
        allowed, use_case = BOOKING_METHODS[method[len(BOOKING_API):]]
        self._limit(request)
        if request.method not in allowed:
            raise PermissionDenied(f"Not permitted: use {' or '.join(allowed)} for {method}")
        payload = self._payload(request)
        answers = payload.get("answers")
        if isinstance(answers, str) and answers.strip():  # a form sends the answers as JSON text
            try:
                payload["answers"] = json.loads(answers)
            except ValueError:
                raise InvalidInput("answers", "must be a JSON object of {fieldname: value}") from None
        result = use_case(self.services, payload)
        if isinstance(result, Download):
            return download_response(result)
        return json_response({"message": result})

    def _account_method(self, request: Request, method: str) -> Response:
        """A signed-in user's own calendar connections and links (connections/manage.py):
        token-authenticated, as Frappe's whitelisted methods need a session; the OAuth
        callbacks take the provider's redirect (no token: their state names the user)."""
        allowed, use_case, guest = ACCOUNT_METHODS[method]
        if guest:
            self._limit(request)
            user = authenticate(self.services, request.headers.get("Authorization"))
        else:
            user = self._user(request)
        if request.method not in allowed:
            raise PermissionDenied(f"Not permitted: use {' or '.join(allowed)} for {method}")
        return json_response({"message": use_case(self.services, user, self._payload(request))})

    def _reminder_preview(self, request: Request) -> Response:
        """The reminder email a link sends (notifications/reminders.py), for its owner or the
        Administrator, as Frappe's api/reminders.preview_reminder answers."""
        from ...notifications import reminders

        user = self._user(request)
        payload = self._payload(request)
        name = payload.get("link")
        link = self.services.store.get("Meeting Link", name) if isinstance(name, str) and name else None
        if link is None:
            raise NotFound(f"Meeting Link {name!r} not found")
        if not is_admin(user) and link.get("host") != user:
            raise PermissionDenied(f"Not permitted: Meeting Link {name} is not yours")
        subject, html = reminders.preview_reminder(self.services, name, payload.get("language") or None)
        return json_response({"message": {"subject": subject, "html": html}})

    def _push(self, request: Request, method: str) -> Response:
        """Provider push notifications (sync/push.py): the channel secret authenticates."""
        from ...sync import push

        if request.method != "POST":
            raise PermissionDenied(f"Not permitted: use POST for {method}")
        if method.endswith("google_push"):
            status, content_type, body = push.google_notification(self.services, dict(request.headers))
        else:
            raw = request.get_data(cache=True)
            try:
                payload = json.loads(raw) if raw.strip() else None
            except (ValueError, UnicodeDecodeError):
                payload = None
            status, content_type, body = push.graph_notification(self.services, request.args.to_dict(), payload)
        if content_type == "text/plain":
            return Response(str(body), status=status, content_type="text/plain; charset=utf-8")
        return json_response(body, status)

    # --- /api/resource ---

    def on_collection(self, request: Request, doctype: str) -> Response:
        user = self._user(request)
        if request.method == "POST":
            doc = web_resource.create_doc(self.services, user, doctype, self._body(request))
            return json_response({"data": doc})
        return json_response({"data": web_resource.list_docs(self.services, user, doctype, request.args.to_dict())})

    def on_document(self, request: Request, doctype: str, name: str) -> Response:
        user = self._user(request)
        if request.method == "PUT":
            doc = web_resource.update_doc(self.services, user, doctype, name, self._body(request))
            return json_response({"data": doc})
        if request.method == "DELETE":
            web_resource.delete_doc(self.services, user, doctype, name)
            return json_response({"message": "ok"})
        return json_response({"data": web_resource.get_doc(self.services, user, doctype, name)})

    # --- pages ---

    def _page(self, http_status: int, context: Mapping[str, Any]) -> Response:
        html = self.templates.get_template(booking_page.TEMPLATE).render(**context)
        response = Response(html, status=http_status, mimetype="text/html")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _page_options(request: Request) -> dict[str, Any]:
        return {
            "lang": request.args.get("lang"),
            "embed": request.args.get("embed") in ("1", "true"),
            "base_url": request.host_url.rstrip("/"),
        }

    def _not_found(self, request: Request, error: NotFound) -> Response:
        return self._page(404, booking_page.not_found_context(error.message, lang=request.args.get("lang")))

    def on_link_page(self, request: Request, slug: str) -> Response:
        self._limit(request)
        link = domains.published_page(self.services, slug)  # exactly a published slug, else 404
        if link is None:
            return self._not_found(request, NotFound("This meeting link does not exist or is no longer published."))
        target = domains.redirect_url(self.services, link, request.host, request.query_string.decode("latin-1"))
        if target:  # the link lives on its custom domain (domains.py)
            return _redirect(target, 301)
        try:
            context = booking_page.booking_context(self.services, slug, **self._page_options(request))
        except NotFound as error:
            return self._not_found(request, error)
        response = self._page(200, context)
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if context["page"]["robots"]:
            response.headers["X-Robots-Tag"] = context["page"]["robots"]
        return response

    def on_domain_page(self, request: Request) -> Response:
        """/meetings on a link's custom domain: that link (domains.link_for_host)."""
        self._limit(request)
        slug = domains.link_for_host(self.services, request.host)
        if slug is None:
            return self._not_found(request, NotFound("No meeting link here: check the address you were given."))
        query = request.query_string.decode("latin-1")
        return _redirect(domains.page_path(slug) + (f"?{query}" if query else ""), 302)

    def on_robots_txt(self, request: Request) -> Response:
        """MEETINGS_ROBOTS_TXT (a file, as Frappe's robots_txt site setting), else the
        default: crawl the pages, not the API. Each link's own choice is its X-Robots-Tag."""
        path = os.environ.get("MEETINGS_ROBOTS_TXT", "").strip()
        text = Path(path).read_text(encoding="utf-8") if path else DEFAULT_ROBOTS_TXT
        response = Response(text, mimetype="text/plain")
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    def on_manage_page(self, request: Request, token: str) -> Response:
        self._limit(request)
        try:
            context = booking_page.manage_context(self.services, token, **self._page_options(request))
        except NotFound as error:
            response = self._not_found(request, error)
        else:
            response = self._page(200, context)
        # The token is in the address: keep it out of Referer headers, caches and search.
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = domains.NOINDEX
        return response

    # --- /assets/meetings_addon (Frappe serves the app's public/ folder there) ---

    def on_asset(self, request: Request, path: str) -> Response:
        file = _public_file(path)
        if file is None:
            raise NotFound("No such file.")
        response = send_file(
            str(file), request.environ, mimetype=ASSET_TYPES[file.suffix.lower()], conditional=True, etag=True,
            max_age=None,
        )
        if request.args.get("v"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "public, max-age=300, must-revalidate"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Access-Control-Allow-Origin"] = "*"  # embed.js runs on other sites
        return response


def _redirect(location: str, status: int) -> Response:
    """A redirect as Frappe's RedirectPage sends it: not cached, so a link's domain can change."""
    response = Response("", status=status)
    response.headers["Location"] = location
    response.headers["Cache-Control"] = "no-store, no-cache, must-revalidate"
    return response


def _public_file(path: str) -> Optional[Path]:
    """The file under public/ that `path` names, or None: no `..`, no hidden files, no
    folders, no symlinks out of public/, only the asset types listed."""
    parts = path.split("/")
    if not path or "\\" in path or "\x00" in path or any(not part or part.startswith(".") for part in parts):
        return None
    joined = safe_join(str(PUBLIC), *parts)
    if joined is None:
        return None
    file = Path(joined)
    try:
        resolved = file.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file() or not resolved.is_relative_to(PUBLIC.resolve()):
        return None
    if resolved.suffix.lower() not in ASSET_TYPES:
        return None
    return resolved


def make_app(services: Services, *, guest_rate_limit: Optional[int] = None, proxy_hops: Optional[int] = None) -> MeetingsApp:
    return MeetingsApp(services, guest_rate_limit=guest_rate_limit, proxy_hops=proxy_hops)
