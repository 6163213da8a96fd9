"""Each reader's language and clock: translated strings and Babel-formatted times.

Strings are Frappe-style: the English text is the key and `{0}`-style arguments are
filled after translation, so a Frappe translation file can carry them. Lookup order for a
language such as `pt-BR`: the app's Frappe translation files (meetings_addon/translations/
pt-BR.csv, then pt.csv, if present: rows of `source,translation[,context]`), then the small
built-in table below (en, fr, pt), then the English source.

Frappe's own `_()` is not used: a job runs in the site's language, and each email here
needs its reader's.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_timezone_gmt, get_timezone_location

from ..scheduling import load_zone

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
DEFAULT_LANGUAGE = "en"

# The emails' strings in French and Portuguese (European, as Frappe's `pt`).
STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "Confirmed: {0}": "Confirmé : {0}",
        "Updated: {0}": "Mis à jour : {0}",
        "Cancelled: {0}": "Annulé : {0}",
        "Requested: {0}": "Demandé : {0}",
        "Your meeting is confirmed": "Votre rendez-vous est confirmé",
        "Your meeting has been rescheduled": "Votre rendez-vous a été déplacé",
        "Your meeting has been cancelled": "Votre rendez-vous a été annulé",
        "Your meeting request has been received": "Votre demande de rendez-vous a bien été reçue",
        "{0} will confirm the time shortly.": "{0} confirmera l’horaire sous peu.",
        "Hello {0},": "Bonjour {0},",
        "When": "Quand",
        "Previously": "Auparavant",
        "Duration": "Durée",
        "{0} minutes": "{0} minutes",
        "With": "Avec",
        "Where": "Lieu",
        "Video call": "Visioconférence",
        "Join with {0}": "Rejoindre avec {0}",
        "Join the meeting": "Rejoindre la réunion",
        "Join the video call: {0}": "Rejoindre la visioconférence : {0}",
        "Details": "Détails",
        "Reason": "Motif",
        "Reschedule or cancel": "Changer l'horaire ou annuler",
        "Reschedule or cancel: {0}": "Changer l'horaire ou annuler : {0}",
        "Book another time": "Réserver un autre créneau",
        "The invitation is attached: open it to add the meeting to your calendar.":
            "L’invitation est jointe : ouvrez-la pour ajouter le rendez-vous à votre agenda.",
        "The attached update replaces the earlier invitation in your calendar.":
            "La mise à jour jointe remplace l’invitation précédente dans votre agenda.",
        "The attached cancellation removes the meeting from your calendar.":
            "L’annulation jointe retire le rendez-vous de votre agenda.",
        "New booking: {0} – {1}": "Nouvelle réservation : {0} – {1}",
        "New request: {0} – {1}": "Nouvelle demande : {0} – {1}",
        "Rescheduled: {0} – {1}": "Déplacé : {0} – {1}",
        "Cancelled: {0} – {1}": "Annulé : {0} – {1}",
        "{0} booked a meeting with you": "{0} a réservé un rendez-vous avec vous",
        "{0} requested a meeting with you": "{0} a demandé un rendez-vous avec vous",
        "{0} rescheduled their meeting": "{0} a déplacé son rendez-vous",
        "{0} cancelled their meeting": "{0} a annulé son rendez-vous",
        "Meeting": "Rendez-vous",
        "Contact": "Contact",
        "Email": "E-mail",
        "Answers": "Réponses",
        "Guest's time zone": "Fuseau horaire de l’invité",
        "Open the contact": "Ouvrir le contact",
        "Open the booking": "Ouvrir la réservation",
        "Yes": "Oui",
        "No": "Non",
        "Reminder: {0}": "Rappel : {0}",
        "Your meeting is {0}": "Votre rendez-vous a lieu {0}",
        "in 1 day": "dans 1 jour",
        "in {0} days": "dans {0} jours",
        "in 1 hour": "dans 1 heure",
        "in {0} hours": "dans {0} heures",
        "in 1 minute": "dans 1 minute",
        "in {0} minutes": "dans {0} minutes",
        "To reschedule or cancel, use the link in your confirmation email.":
            "Pour changer l’horaire ou annuler, utilisez le lien de votre e-mail de confirmation.",
        "Open the booking page": "Ouvrir la page de réservation",
        "{0}: {1}'s calendar {2} is disconnected": "{0} : le calendrier {2} de {1} est déconnecté",
        "{0}'s calendar is disconnected": "Le calendrier de {0} est déconnecté",
        "Visitors can only request meetings on {0} until it is reconnected: a group meeting needs every host.": "Les visiteurs ne peuvent que demander un rendez-vous sur {0} jusqu'à sa reconnexion : une réunion de groupe a besoin de tous les hôtes.",
        "{0} gets no meetings from {1} until it is reconnected: the other hosts take them, so no one is double-booked.": "{0} ne reçoit plus de rendez-vous de {1} jusqu'à la reconnexion : les autres hôtes les prennent, personne n'est réservé deux fois.",
        "Host": "Hôte",
        "Calendar": "Calendrier",
        "Since": "Depuis",
        "Ask the host to reconnect the calendar, or to remove the failing one, in their calendar settings.": "Demandez à l'hôte de reconnecter le calendrier, ou de retirer celui qui échoue, dans ses paramètres de calendrier.",
        "Open the calendar connection": "Ouvrir la connexion du calendrier",
        "You get this email once per failure.": "Vous recevez cet e-mail une fois par panne.",
        "Moved to {0}: {1} – {2}": "Transféré à {0} : {1} – {2}",
        "{0} rescheduled: {1} takes the meeting at the new time": "{0} a déplacé le rendez-vous : {1} le prend au nouvel horaire",
        "Moved: {0}": "Déplacé : {0}",
        "Your meeting moved to {0} with {1}": "Votre rendez-vous a été déplacé au {0} avec {1}",
        "The attached cancellation removes the earlier entry from your calendar; the new invitation came in its own email.": "L'annulation jointe retire l'ancienne entrée de votre agenda ; la nouvelle invitation est arrivée dans un e-mail distinct.",
    },
    "pt": {
        "Confirmed: {0}": "Confirmado: {0}",
        "Updated: {0}": "Atualizado: {0}",
        "Cancelled: {0}": "Cancelado: {0}",
        "Requested: {0}": "Pedido: {0}",
        "Your meeting is confirmed": "A sua reunião está confirmada",
        "Your meeting has been rescheduled": "A sua reunião foi reagendada",
        "Your meeting has been cancelled": "A sua reunião foi cancelada",
        "Your meeting request has been received": "O seu pedido de reunião foi recebido",
        "{0} will confirm the time shortly.": "{0} confirmará o horário em breve.",
        "Hello {0},": "Olá {0},",
        "When": "Quando",
        "Previously": "Anteriormente",
        "Duration": "Duração",
        "{0} minutes": "{0} minutos",
        "With": "Com",
        "Where": "Local",
        "Video call": "Videochamada",
        "Join with {0}": "Entrar com {0}",
        "Join the meeting": "Entrar na reunião",
        "Join the video call: {0}": "Entrar na videochamada: {0}",
        "Details": "Detalhes",
        "Reason": "Motivo",
        "Reschedule or cancel": "Reagendar ou cancelar",
        "Reschedule or cancel: {0}": "Reagendar ou cancelar: {0}",
        "Book another time": "Marcar outro horário",
        "The invitation is attached: open it to add the meeting to your calendar.":
            "O convite está em anexo: abra-o para adicionar a reunião ao seu calendário.",
        "The attached update replaces the earlier invitation in your calendar.":
            "A atualização em anexo substitui o convite anterior no seu calendário.",
        "The attached cancellation removes the meeting from your calendar.":
            "O cancelamento em anexo remove a reunião do seu calendário.",
        "New booking: {0} – {1}": "Nova marcação: {0} – {1}",
        "New request: {0} – {1}": "Novo pedido: {0} – {1}",
        "Rescheduled: {0} – {1}": "Reagendado: {0} – {1}",
        "Cancelled: {0} – {1}": "Cancelado: {0} – {1}",
        "{0} booked a meeting with you": "{0} marcou uma reunião consigo",
        "{0} requested a meeting with you": "{0} pediu uma reunião consigo",
        "{0} rescheduled their meeting": "{0} reagendou a reunião",
        "{0} cancelled their meeting": "{0} cancelou a reunião",
        "Meeting": "Reunião",
        "Contact": "Contacto",
        "Email": "E-mail",
        "Answers": "Respostas",
        "Guest's time zone": "Fuso horário do convidado",
        "Open the contact": "Abrir o contacto",
        "Open the booking": "Abrir a marcação",
        "Yes": "Sim",
        "No": "Não",
        "Reminder: {0}": "Lembrete: {0}",
        "Your meeting is {0}": "A sua reunião é {0}",
        "in 1 day": "daqui a 1 dia",
        "in {0} days": "daqui a {0} dias",
        "in 1 hour": "daqui a 1 hora",
        "in {0} hours": "daqui a {0} horas",
        "in 1 minute": "daqui a 1 minuto",
        "in {0} minutes": "daqui a {0} minutos",
        "To reschedule or cancel, use the link in your confirmation email.":
            "Para reagendar ou cancelar, use a ligação do seu e-mail de confirmação.",
        "Open the booking page": "Abrir a página de marcação",
        "{0}: {1}'s calendar {2} is disconnected": "{0}: o calendário {2} de {1} está desligado",
        "{0}'s calendar is disconnected": "O calendário de {0} está desligado",
        "Visitors can only request meetings on {0} until it is reconnected: a group meeting needs every host.": "Os visitantes só podem pedir reuniões em {0} até ser religado: uma reunião de grupo precisa de todos os anfitriões.",
        "{0} gets no meetings from {1} until it is reconnected: the other hosts take them, so no one is double-booked.": "{0} não recebe reuniões de {1} até ser religado: os outros anfitriões recebem-nas, ninguém fica com marcações duplas.",
        "Host": "Anfitrião",
        "Calendar": "Calendário",
        "Since": "Desde",
        "Ask the host to reconnect the calendar, or to remove the failing one, in their calendar settings.": "Peça ao anfitrião que volte a ligar o calendário, ou que retire o que falha, nas definições de calendário.",
        "Open the calendar connection": "Abrir a ligação do calendário",
        "You get this email once per failure.": "Recebe este e-mail uma vez por falha.",
        "Moved to {0}: {1} – {2}": "Passou para {0}: {1} – {2}",
        "{0} rescheduled: {1} takes the meeting at the new time": "{0} remarcou: {1} fica com a reunião na nova hora",
        "Moved: {0}": "Mudou: {0}",
        "Your meeting moved to {0} with {1}": "A sua reunião passou para {0} com {1}",
        "The attached cancellation removes the earlier entry from your calendar; the new invitation came in its own email.": "O cancelamento em anexo retira a entrada antiga do seu calendário; o novo convite chegou num e-mail à parte.",
    },
}


def normalize(language: Optional[str]) -> str:
    """`fr`, `pt-BR`, `pt_br` -> Frappe's spelling (`fr`, `pt-BR`); empty -> `en`."""
    value = (language or "").strip().replace("_", "-")
    if not value:
        return DEFAULT_LANGUAGE
    head, _, tail = value.partition("-")
    return f"{head.lower()}-{tail.upper()}" if tail else head.lower()


@lru_cache(maxsize=32)
def _file_strings(language: str) -> dict[str, str]:
    """A Frappe translation file of the app (`source,translation[,context]` rows)."""
    path = TRANSLATIONS / f"{language}.csv"
    if not path.is_file():
        return {}
    strings: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle):
            if len(row) >= 2 and row[0] and row[1]:
                strings.setdefault(row[0], row[1])
    return strings


def gettext(text: str, language: Optional[str]) -> str:
    language = normalize(language)
    candidates = [language] + ([language.split("-")[0]] if "-" in language else [])
    for candidate in candidates:
        found = _file_strings(candidate).get(text)
        if found:
            return found
    for candidate in candidates:
        found = STRINGS.get(candidate, {}).get(text)
        if found:
            return found
    return text


@lru_cache(maxsize=64)
def babel_locale(language: Optional[str]) -> Locale:
    try:
        return Locale.parse(normalize(language).replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LANGUAGE)


@dataclass(frozen=True)
class Reader:
    """Whoever reads an email: their language and time zone."""

    language: str
    timezone: str

    def _(self, text: str, *args: object) -> str:
        translated = gettext(text, self.language)
        return translated.format(*args) if args else translated

    @property
    def locale(self) -> Locale:
        return babel_locale(self.language)

    @property
    def zone(self) -> ZoneInfo:
        try:
            return load_zone(self.timezone or "UTC")
        except Exception:  # noqa: BLE001 - a stale zone name: show UTC rather than fail the email
            return ZoneInfo("UTC")

    def _time(self, moment: datetime) -> str:
        # CLDR puts a narrow no-break space before AM/PM: some email fonts lack it.
        return format_time(moment, "short", locale=self.locale).replace("\u202f", "\u00a0")

    def when(self, start: datetime, end: datetime) -> str:
        """`Monday, December 7, 2026, 10:00 AM – 10:30 AM (New York, GMT-05:00)` in the
        reader's language and zone."""
        zone = self.zone
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        day = format_date(local_start, "full", locale=self.locale)
        first = self._time(local_start)
        last = self._time(local_end)
        if local_end.date() != local_start.date():
            last = f"{format_date(local_end, 'medium', locale=self.locale)} {last}"
        return f"{day}, {first} – {last} ({self.zone_label(local_start)})"

    def short_when(self, start: datetime) -> str:
        """`Dec 7, 10:00 AM` for subjects."""
        local = start.astimezone(self.zone)
        return f"{format_date(local, 'medium', locale=self.locale)} {self._time(local)}"

    def zone_label(self, moment: datetime) -> str:
        zone = self.zone
        local = moment.astimezone(zone)
        if zone.key == "UTC":
            return get_timezone_gmt(local, locale=self.locale)
        city = get_timezone_location(zone, locale=self.locale, return_city=True)
        return f"{city}, {get_timezone_gmt(local, locale=self.locale)}"
