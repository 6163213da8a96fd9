"""The Meeting Link controller on a real site: rules are checked by the core's
validate_link_rules and refused naming the field."""

import pytest

frappe = pytest.importorskip("frappe")

from tests.frappe.conftest import link_values, make_user, unique  # noqa: E402


def test_end_before_start_availability_is_refused_naming_availability(site):
    host = make_user(f"{unique('ml')}@meetings-host.example.com", "Mia")
    doc = frappe.get_doc(
        link_values(unique("ml"), host, availability=[{"weekday": "Monday", "start_time": "17:00", "end_time": "09:00"}])
    )
    with pytest.raises(frappe.ValidationError) as refused:
        doc.insert(ignore_permissions=True)
    label = frappe.get_meta("Meeting Link").get_label("availability")
    assert str(refused.value).startswith(f"{label}: "), str(refused.value)
    assert not frappe.db.exists("Meeting Link", doc.slug)


@pytest.mark.parametrize(
    "values, fieldname",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"durations": "0"}, "durations"),
        ({"slug": "Not A Slug"}, "slug"),
    ],
)
def test_other_bad_rules_name_their_field(site, values, fieldname):
    host = make_user(f"{unique('ml')}@meetings-host.example.com", "Mia")
    doc = frappe.get_doc({**link_values(unique("ml"), host), **values})
    with pytest.raises(frappe.ValidationError) as refused:
        doc.insert(ignore_permissions=True)
    label = frappe.get_meta("Meeting Link").get_label(fieldname)
    assert str(refused.value).startswith(f"{label}: "), str(refused.value)


def test_a_good_link_is_saved_with_the_host_time_zone_by_default(site):
    host = make_user(f"{unique('ml')}@meetings-host.example.com", "Mia")
    values = link_values(unique("ml"), host)
    values.pop("timezone")
    doc = frappe.get_doc(values).insert(ignore_permissions=True)
    assert doc.name == values["slug"]
    assert doc.timezone == "Europe/Paris"  # the host's User.time_zone


def test_rest_api_refuses_a_bad_rule_with_417_naming_the_field(http, site):
    """/api/resource/Meeting Link as an API user: Frappe's 417, the message naming the field."""
    from frappe.core.doctype.user.user import generate_keys

    from tests.frappe.conftest import cleanup

    email = make_user(f"{unique('api')}@meetings-host.example.com", "Api")
    secret = generate_keys(email)["api_secret"]
    auth = {"Authorization": f"token {frappe.db.get_value('User', email, 'api_key')}:{secret}"}
    frappe.db.commit()
    bad = link_values(unique("ml"), email, availability=[{"weekday": "Monday", "start_time": "17:00", "end_time": "09:00"}])
    good = link_values(unique("ml"), email)
    try:
        response = http.session.post(f"{http.base}/api/resource/Meeting Link", json=bad, headers=auth, timeout=60)
        assert response.status_code == 417, response.text
        assert response.json()["exc_type"] == "ValidationError"
        assert "Weekly Hours: " in response.json()["_server_messages"]
        response = http.session.post(f"{http.base}/api/resource/Meeting Link", json=good, headers=auth, timeout=60)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["name"] == good["slug"]
    finally:
        cleanup([good["slug"]], [email])
