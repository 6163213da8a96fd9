"""Calendar connections on a real bench: secrets in Frappe's Password storage (and kept
across saves), the whitelisted connections and links API acting on the signed-in user's
own connections only, request mode telling the owner once through the Email Queue, and
the form and list scripts Frappe serves to the desk.

Set MEETINGS_TEST_CALDAV_URL (a Radicale with user alice / password alice-app-password,
e.g. started by tests/calendars/caldav_servers.py) to also add a CalDAV account for real.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

frappe = pytest.importorskip("frappe")

from meetings_addon.booking import service  # noqa: E402
from meetings_addon.connections import health, notify, registry  # noqa: E402
from meetings_addon.errors import CalendarUnavailable  # noqa: E402
from tests.frappe.conftest import cleanup, link_values, make_user, unique  # noqa: E402

CONNECTION = "Calendar Connection"


def desk_user(email: str, first_name: str) -> str:
    """A user with Desk User only (no System Manager): Frappe's own permissions apply."""
    if not frappe.db.exists("User", email):
        frappe.get_doc({"doctype": "User", "email": email, "first_name": first_name, "send_welcome_email": 0,
                        "time_zone": "Europe/Paris", "roles": [{"role": "Desk User"}]}).insert(ignore_permissions=True)
    return email


def connection(services, user: str, provider: str = "CalDAV", **values) -> str:
    rows = [{"calendar_id": "/alice/work/", "calendar_name": "Work", "check_availability": 1, "is_default": 1,
             "access_role": "owner", "status": "OK"}]
    doc = services.store.insert(CONNECTION, {"user": user, "owner": user, "provider": provider, "account": user,
                                             "status": "Connected", "caldav_url": "https://dav.example.com/",
                                             "caldav_username": user, "calendars": rows, **values})
    return doc["name"]


class DownProvider:
    """A provider whose account was revoked: reads fail and mark the connection."""

    def __init__(self, services, doc):
        self.services, self.doc = services, doc

    def list_calendars(self):
        raise CalendarUnavailable("Google refused the saved sign-in (invalid_grant)")

    def busy(self, calendar_ids, start, end):
        health.mark_failing(self.services, self.doc, "Google refused the saved sign-in (invalid_grant)")
        raise CalendarUnavailable("Google refused the saved sign-in (invalid_grant)")


# --- secrets ---------------------------------------------------------------------------------------


def test_a_secret_is_encrypted_kept_across_saves_and_never_in_the_document(services):
    user = make_user(f"{unique('cc')}@meetings-host.example.com", "Cara")
    name = connection(services, user)
    services.secrets.set(CONNECTION, name, "caldav_password", "app-pw-123")
    assert frappe.db.get_value(CONNECTION, name, "caldav_password") == "*" * 10  # the column: asterisks
    stored = frappe.db.sql("select password from __Auth where doctype=%s and name=%s and fieldname='caldav_password'",
                           (CONNECTION, name))[0][0]
    assert stored != "app-pw-123"
    # Any later save (a calendar marked failing) keeps it: Frappe drops the secret of an
    # empty Password column on save.
    health.mark_failing(services, {"name": name}, "CalDAV: 401", calendar_id=None)
    services.store.update(CONNECTION, name, {"account": "renamed"})
    assert services.secrets.get(CONNECTION, name, "caldav_password") == "app-pw-123"
    assert "app-pw-123" not in json.dumps(frappe.get_doc(CONNECTION, name).as_dict(), default=str)
    services.secrets.set(CONNECTION, name, "caldav_password", None)
    assert services.secrets.get(CONNECTION, name, "caldav_password") is None


# --- the API: own connections only ---------------------------------------------------------------------


def test_users_see_and_change_only_their_own_connections(services):
    from meetings_addon.api import connections as api

    ann = desk_user(f"{unique('ann')}@meetings-host.example.com", "Ann")
    bob = desk_user(f"{unique('bob')}@meetings-host.example.com", "Bob")
    anns, bobs = connection(services, ann), connection(services, bob)
    services.secrets.set(CONNECTION, anns, "caldav_password", "ann-secret")

    frappe.set_user(ann)
    listed = api.list_connections()
    assert [c["name"] for c in listed] == [anns] and "ann-secret" not in json.dumps(listed, default=str)
    assert api.get_connection(anns)["calendars"][0]["calendar_id"] == "/alice/work/"
    for call in (lambda: api.get_connection(bobs), lambda: api.remove_calendar(bobs, "/alice/work/"),
                 lambda: api.disconnect(bobs)):
        with pytest.raises(frappe.DoesNotExistError):
            call()
    assert frappe.db.exists(CONNECTION, bobs)
    # Frappe's own permissions agree (Desk User, if_owner): Bob's row is not Ann's to read.
    assert not frappe.has_permission(CONNECTION, "read", doc=frappe.get_doc(CONNECTION, bobs), user=ann)

    removed = api.remove_calendar(anns, "/alice/work/")
    assert removed["calendars"] == []
    assert api.disconnect(anns)["disconnected"] is True
    assert not frappe.db.exists(CONNECTION, anns)
    frappe.set_user("Administrator")
    assert services.secrets.get(CONNECTION, anns, "caldav_password") is None

    frappe.set_user("Guest")
    with pytest.raises(frappe.PermissionError):
        api.list_connections()


def test_bad_caldav_input_names_the_field(services):
    from meetings_addon.api import connections as api

    user = desk_user(f"{unique('cd')}@meetings-host.example.com", "Cid")
    frappe.set_user(user)
    for values, field in [({"caldav_url": ""}, "caldav_url"), ({"caldav_url": "http://dav.example.com/"}, "caldav_url"),
                          ({"caldav_username": ""}, "caldav_username"), ({"caldav_password": ""}, "caldav_password")]:
        args = {"caldav_url": "https://dav.example.com/", "caldav_username": "cid", "caldav_password": "x", **values}
        with pytest.raises(frappe.ValidationError) as refused:
            api.add_caldav(**args)
        assert field in str(refused.value) and frappe.local.response.get("field") == field
    frappe.set_user("Administrator")
    assert not frappe.db.exists(CONNECTION, {"user": user})


@pytest.mark.skipif(not os.environ.get("MEETINGS_TEST_CALDAV_URL"), reason="MEETINGS_TEST_CALDAV_URL is not set")
def test_adding_a_real_caldav_account(services):
    from meetings_addon.api import connections as api

    url = os.environ["MEETINGS_TEST_CALDAV_URL"]
    user = desk_user(f"{unique('dav')}@meetings-host.example.com", "Dav")
    frappe.set_user(user)
    with pytest.raises(frappe.ValidationError):
        api.add_caldav(caldav_url=url, caldav_username="alice", caldav_password="wrong")
    assert frappe.local.response.get("field") == "caldav_password"
    added = api.add_caldav(caldav_url=url, caldav_username="alice", caldav_password="alice-app-password")
    assert added["status"] == "Connected" and added["calendars"] and "alice-app-password" not in json.dumps(added, default=str)
    frappe.set_user("Administrator")
    assert services.secrets.get(CONNECTION, added["name"], "caldav_password") == "alice-app-password"


# --- request mode on Frappe: one email, the alert on the link list -------------------------------------------------


def test_request_mode_tells_the_owner_once_and_lists_the_alert(services, monkeypatch):
    from meetings_addon.api import links as links_api

    monkeypatch.setitem(registry.FACTORIES, "Google", DownProvider)
    host = desk_user(f"{unique('rq')}@meetings-host.example.com", "Rhea")
    slug = unique("rq")
    frappe.get_doc(link_values(slug, host)).insert(ignore_permissions=True)
    name = connection(services, host, provider="Google")
    if not frappe.db.exists("Email Account", {"default_outgoing": 1, "enable_outgoing": 1}):
        frappe.get_doc({"doctype": "Email Account", "email_account_name": "Meetings Test Outgoing",
                        "email_id": "meetings@example.org", "enable_outgoing": 1, "default_outgoing": 1,
                        "smtp_server": "127.0.0.1", "smtp_port": 2525, "no_smtp_authentication": 1}).insert(ignore_permissions=True)

    day = datetime.now(timezone.utc).date() + timedelta(days=3)
    view = service.get_slots(services, {"link": slug, "start": day.isoformat(), "end": (day + timedelta(days=2)).isoformat(),
                                        "timezone": "Europe/Paris"})
    assert view["mode"] == "request"
    assert frappe.db.get_value(CONNECTION, name, "status") == "Error"
    before = frappe.db.count("Email Queue")
    made = [service.book(services, {"link": slug, "start": view["slots"][i]["start"], "timezone": "Europe/Paris",
                                    "first_name": "Vera", "last_name": "Visitor", "email": f"v{i}@client.example"})
            for i in range(3)]
    assert [m["status"] for m in made] == ["Requested"] * 3
    sent = [notify.request_arrived(services, m["booking"]) for m in made]  # the jobs, run here
    assert [len(told) for told in sent] == [1, 0, 0] and frappe.db.count("Email Queue") == before + 1
    assert "disconnected" in frappe.get_last_doc("Email Queue").message

    frappe.set_user(host)
    links = links_api.list_links()
    assert links[0]["name"] == slug and links[0]["mode"] == "request" and "cannot be read" in links[0]["alert"]
    frappe.set_user("Administrator")

    health.mark_ok(services, {"name": name})  # reconnected
    monkeypatch.setitem(registry.FACTORIES, "Google", lambda s, d: registry.FACTORIES["Local"](s, d))
    assert service.get_link(services, slug)["mode"] == "book"


# --- the desk: form and list scripts --------------------------------------------------------------------------------


def test_the_desk_gets_the_connection_form_actions_and_the_link_list_alert(http, site):
    """Frappe serves the form script (Connect Google / Office 365 / Add CalDAV, the status
    colours) and the list scripts with the doctypes, as the desk loads them."""
    login = http.session.post(f"{http.base}/api/method/login", data={"usr": "Administrator", "pwd": "admin"}, timeout=60)
    if login.status_code != 200:
        pytest.skip("cannot sign in as Administrator with the default password")
    try:
        form = http.session.get(f"{http.base}/api/method/frappe.desk.form.load.getdoctype",
                                params={"doctype": CONNECTION}, timeout=60).json()
        script = form["docs"][0]["__js"]
        for text in ("Connect Google", "Connect Office 365", "Add CalDAV", "meetings_addon.api.connections.",
                     "indicator-pill"):
            assert text in script
        assert "Connect a calendar" in form["docs"][0]["__list_js"]
        links = http.session.get(f"{http.base}/api/method/frappe.desk.form.load.getdoctype",
                                 params={"doctype": "Meeting Link"}, timeout=60).json()
        assert "meetings_addon.api.links.list_links" in links["docs"][0]["__list_js"]
        answer = http.session.get(f"{http.base}/api/method/meetings_addon.api.links.list_links", timeout=60)
        assert answer.status_code == 200 and isinstance(answer.json()["message"], list)
    finally:
        http.session.cookies.clear()


def test_connection_api_over_http_needs_a_user_and_never_returns_a_secret(http, site):
    from frappe.core.doctype.user.user import generate_keys

    from meetings_addon.hosts.frappe.services import services as build

    email = desk_user(f"{unique('hx')}@meetings-host.example.com", "Hex")
    other = desk_user(f"{unique('hy')}@meetings-host.example.com", "Hy")
    secret = generate_keys(email)["api_secret"]
    auth = {"Authorization": f"token {frappe.db.get_value('User', email, 'api_key')}:{secret}"}
    bundle = build()
    mine, theirs = connection(bundle, email), connection(bundle, other)
    bundle.secrets.set(CONNECTION, mine, "caldav_password", "hex-app-password")
    frappe.db.commit()
    base = f"{http.base}/api/method/meetings_addon.api.connections."
    try:
        assert http.session.get(base + "list_connections", timeout=60).status_code == 403  # a guest
        answers = [
            http.session.get(base + "list_connections", headers=auth, timeout=60),
            http.session.get(base + "get_connection", params={"connection": mine}, headers=auth, timeout=60),
            http.session.get(f"{http.base}/api/resource/{CONNECTION}/{mine}", headers=auth, timeout=60),
        ]
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert "hex-app-password" not in answer.text
        assert [c["name"] for c in answers[0].json()["message"]] == [mine]
        assert http.session.get(base + "get_connection", params={"connection": theirs}, headers=auth,
                                timeout=60).status_code == 404
        assert http.session.get(f"{http.base}/api/resource/{CONNECTION}/{theirs}", headers=auth,
                                timeout=60).status_code == 403
        assert http.session.post(base + "disconnect", json={"connection": theirs}, headers=auth,
                                 timeout=60).status_code == 404
    finally:
        frappe.db.rollback()
        for name in (mine, theirs):
            if frappe.db.exists(CONNECTION, name):
                frappe.delete_doc(CONNECTION, name, force=True, ignore_permissions=True)
        frappe.db.commit()
        cleanup(users=[email, other])


@pytest.mark.skipif(not os.environ.get("MEETINGS_TEST_CALDAV_URL"), reason="MEETINGS_TEST_CALDAV_URL is not set")
def test_a_page_view_that_finds_the_password_refused_marks_it_even_on_a_get(http, site):
    """GET get_link: Frappe commits only POSTs by itself; the mark made during a page
    view must stay (hosts/frappe/services.py CommittingStore)."""
    from meetings_addon.hosts.frappe.services import services as build

    url = os.environ["MEETINGS_TEST_CALDAV_URL"]
    host = desk_user(f"{unique('gm')}@meetings-host.example.com", "Gem")
    slug = unique("gm")
    frappe.get_doc(link_values(slug, host)).insert(ignore_permissions=True)
    bundle = build()
    name = connection(bundle, host, caldav_url=url, caldav_username="alice")
    bundle.secrets.set(CONNECTION, name, "caldav_password", "changed-at-the-provider")
    frappe.db.commit()
    try:
        answer = http.method("get_link", get={"link": slug})
        assert answer.status_code == 200 and answer.json()["message"]["mode"] == "request"
        frappe.db.rollback()  # see what the server committed
        doc = frappe.get_doc(CONNECTION, name)
        assert doc.status == "Error" and "401" in doc.error
        assert bundle.secrets.get(CONNECTION, name, "caldav_password") == "changed-at-the-provider"  # kept
    finally:
        frappe.db.rollback()
        frappe.delete_doc(CONNECTION, name, force=True, ignore_permissions=True)
        frappe.db.commit()
        cleanup([slug], [host])
