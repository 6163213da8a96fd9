"""The standalone mailers: SMTP (against a small SMTP server on 127.0.0.1), the dev outbox
and its `meetings outbox` command, and the configuration from the environment."""

from __future__ import annotations

import base64
import socketserver
import threading
from email import policy
from email.parser import BytesParser

import pytest

from meetings_addon.errors import InvalidInput
from meetings_addon.hosts.standalone import cli
from meetings_addon.hosts.standalone.mailer import (
    OutboxMailer,
    SMTPMailer,
    SMTPSettings,
    build_mailer,
    build_message,
    html_to_text,
)
from meetings_addon.hosts.standalone.services import build_services

from .conftest import GUEST, HOST, Scene

ICS = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough ESMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.reply("220 fake ESMTP")
        sender, recipients = None, []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            verb = line.upper()
            if verb.startswith("EHLO"):
                self.reply("250-fake")
                self.reply("250-AUTH PLAIN")
                self.reply("250 8BITMIME")
            elif verb.startswith("AUTH PLAIN "):
                self.server.logins.append(base64.b64decode(line.split()[2]).split(b"\0"))
                self.reply("235 accepted")
            elif verb.startswith("MAIL FROM:"):
                sender, recipients = line[10:].split()[0], []
                self.reply("250 ok")
            elif verb.startswith("RCPT TO:"):
                recipients.append(line[8:].strip())
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                lines = []
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                self.server.messages.append((sender, recipients, b"".join(lines)))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class FakeSMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages: list = []
        self.logins: list = []
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def smtp_server():
    server = FakeSMTPServer()
    yield server
    server.stop()


def test_smtp_url_settings():
    s = SMTPSettings.from_url("smtp://me%40team.example:p%3Ass%2Fword@mail.example:2525?starttls=true")
    assert (s.host, s.port, s.username, s.password, s.starttls, s.ssl) == ("mail.example", 2525, "me@team.example", "p:ss/word", True, False)
    assert SMTPSettings.from_url("smtp://mail.example").port == 25
    assert SMTPSettings.from_url("smtp://mail.example?starttls=1").port == 587
    assert SMTPSettings.from_url("smtps://u:p@mail.example").port == 465
    for bad in ("http://mail.example", "smtp://", "mail.example:25", "smtp://mail.example:port"):
        with pytest.raises(InvalidInput) as error:
            SMTPSettings.from_url(bad)
        assert error.value.field == "MEETINGS_SMTP_URL"


def test_build_mailer_chooses_smtp_or_the_outbox(tmp_path):
    outbox = build_mailer({"MEETINGS_OUTBOX": str(tmp_path / "box")})
    assert isinstance(outbox, OutboxMailer) and outbox.directory == (tmp_path / "box").resolve()
    smtp = build_mailer({"MEETINGS_SMTP_URL": "smtp://bookings%40team.example:x@127.0.0.1:2525"})
    assert isinstance(smtp, SMTPMailer) and smtp.sender == "bookings@team.example"
    named = build_mailer({"MEETINGS_SMTP_URL": "smtp://127.0.0.1", "MEETINGS_MAIL_FROM": "Team <team@team.example>"})
    assert named.sender == "Team <team@team.example>"


def test_smtp_mailer_sends_through_a_real_smtp_conversation(smtp_server):
    settings = SMTPSettings.from_url(f"smtp://me%40team.example:s3cr%3At@127.0.0.1:{smtp_server.port}")
    mailer = SMTPMailer(settings, "Meetings <bookings@team.example>", timeout=5)
    mailer.send([GUEST], "Confirmed: Intro call", "<p>Hello <b>Vera</b></p>",
                attachments=[("invite.ics", ICS, "text/calendar; method=REQUEST")], reference=("Booking", "b1"))
    assert smtp_server.logins == [[b"", b"me@team.example", b"s3cr:t"]]
    ((sender, recipients, data),) = smtp_server.messages
    assert sender == "<bookings@team.example>" and recipients == [f"<{GUEST}>"]
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert message["Subject"] == "Confirmed: Intro call" and message["To"] == GUEST
    assert message["X-Meetings-Reference"] == "Booking/b1"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "invite.ics" and attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST" and attachment.get_payload(decode=True) == ICS
    assert "Hello Vera" in message.get_body(("plain",)).get_content()


def test_a_booking_mails_through_smtp_when_configured(tmp_path, monkeypatch, smtp_server):
    monkeypatch.setenv("MEETINGS_SMTP_URL", f"smtp://127.0.0.1:{smtp_server.port}")
    monkeypatch.setenv("MEETINGS_MAIL_FROM", "bookings@team.example")
    monkeypatch.delenv("REDIS_URL", raising=False)
    services = build_services(f"sqlite:///{tmp_path / 'smtp.sqlite'}", redis_url="")
    try:
        assert isinstance(services.mailer, SMTPMailer)
        scene = Scene(services, tmp_path / "unused")
        scene.host()
        scene.link()
        scene.book(scene.at(10))
        assert sorted(r[0] for _, r, _ in smtp_server.messages) == sorted([f"<{GUEST}>", f"<{HOST}>"])
        assert not (tmp_path / "unused").exists()
    finally:
        services.jobs.drain(10)
        services.store.engine.dispose()


def test_outbox_command_lists_and_shows(scene, capsys):
    assert cli.main(["outbox", "list"]) == 0
    assert "No emails" in capsys.readouterr().out
    scene.host()
    scene.link()
    scene.book(scene.at(10))

    assert cli.main(["outbox", "list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == "1" and GUEST in lines[0] and "Confirmed: Intro call" in lines[0]
    assert lines[1].split()[0] == "2" and HOST in lines[1] and "New booking: Vera Visitor" in lines[1]

    assert cli.main(["outbox", "show", "1"]) == 0
    shown = capsys.readouterr().out
    assert f"To: {GUEST}" in shown and "Subject: Confirmed: Intro call" in shown
    assert "Your meeting is confirmed" in shown and "/meetings/manage/" in shown
    assert "Attachment: invite.ics (text/calendar; method=REQUEST" in shown
    assert str(scene.outbox) in shown

    assert cli.main(["outbox", "show", "3"]) == 2
    assert "no email 3" in capsys.readouterr().err


def test_message_structure_for_calendar_clients():
    message = build_message("a@x.example", [GUEST], "Hi\nthere", "<p>x</p>",
                            [("invite.ics", ICS, "text/calendar; method=CANCEL")])
    assert message["Subject"] == "Hi there"  # one line, whatever came in
    assert message.get_content_type() == "multipart/mixed"
    alternative = next(message.iter_parts())
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html", "text/calendar"]
    assert list(alternative.iter_parts())[2].get_param("method") == "CANCEL"


def test_html_to_text_keeps_rows_and_links():
    html = ('<h1>Title</h1><table><tr>\n  <td>When</td>\n  <td>Monday</td>\n</tr><tr><td>Who</td><td>A &amp; B</td></tr></table>'
            '<p><a href="https://x.example/m">Manage</a> <a href="mailto:a@b.c">a@b.c</a></p>')
    assert html_to_text(html) == "Title\n\nWhen: Monday\nWho: A & B\n\nManage <https://x.example/m> a@b.c\n"
