"""The reminder preview on the standalone host answers as Frappe's whitelisted
meetings_addon.api.reminders.preview_reminder does: for the link's owner (or the
Administrator), in the link's language or the one asked for."""

from __future__ import annotations

PREVIEW = "/api/method/meetings_addon.api.reminders.preview_reminder"


def _preview(server, token, **params):
    headers = {"Authorization": f"token {token}"} if token else {}
    return server.http.get(server.url + PREVIEW, params=params, headers=headers, timeout=10)


def test_the_owner_previews_the_reminder_in_the_links_language_or_another(server, h):
    token = h.add_host()
    h.add_link(language="fr", title="Appel découverte")
    french = _preview(server, token, link="hana-30")
    assert french.status_code == 200, french.text
    message = french.json()["message"]
    assert "Appel découverte" in message["subject"] and "Rappel" in message["subject"]
    assert 'lang="fr"' in message["html"] and "Ouvrir la page de réservation" in message["html"]
    portuguese = _preview(server, token, link="hana-30", language="pt")
    assert portuguese.status_code == 200 and "Lembrete" in portuguese.json()["message"]["subject"]


def test_another_user_or_a_guest_cannot_preview_and_an_unknown_link_is_404(server, h):
    h.add_host()
    other = h.add_host("olga@team.example", name="Olga Other")
    h.add_link()
    assert _preview(server, other, link="hana-30").status_code == 403
    assert _preview(server, None, link="hana-30").status_code in (401, 403)
    missing = _preview(server, other, link="no-such-link")
    assert missing.status_code == 404 and missing.json()["exc_type"] == "DoesNotExistError"
