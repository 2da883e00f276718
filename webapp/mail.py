"""E-mail: one way to build and send it, once.

With ``MAIL_SERVER`` set, mail goes out over SMTP (``MAIL_PORT``, STARTTLS with
``MAIL_USE_TLS``, implicit TLS with ``MAIL_USE_SSL``, ``MAIL_USERNAME`` and
``MAIL_PASSWORD`` when the server asks for a log-in). Without it (the embedded
default) each message's headers and text are written to the log (as a warning: a
mail that reaches nobody), so ``make run`` shows it with its links whole.

Mail is sent from jobs (webapp.jobs), and every job may run twice. ``send_once(key,
...)`` claims ``("email", key)`` in the deliveries table in the transaction that sends:
a second run finds the claim and sends nothing; a send that fails rolls the claim back
so the retry sends. The Message-ID is derived from the key too, so that even the rare
duplicate (the SMTP server took the mail, then the commit failed) is one message to
the recipient's mail client.

Subject and bodies are rendered from ``templates/email/<name>.subject.txt``,
``<name>.txt`` and ``<name>.html`` in the recipient's language, with links made
absolute against ``BASE_URL``.
"""
import hashlib
import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import Delivery

log = logging.getLogger(__name__)

CHANNEL = "email"


class Mail:
    """A rendered message before it is addressed: subject, text and HTML bodies."""

    def __init__(self, subject: str, text: str, html: str) -> None:
        self.subject, self.text, self.html = subject, text, html


def render(name: str, locale: str | None, **context) -> Mail:
    """Render ``templates/email/<name>.{subject.txt,txt,html}`` in ``locale`` (the
    default language if None);
    ``url_for(..., _external=True)`` inside them points at ``BASE_URL``."""
    app = current_app._get_current_object()
    with app.test_request_context("/", base_url=app.config["BASE_URL"]), \
            force_locale(locale or app.config["BABEL_DEFAULT_LOCALE"]):
        text = render_template(f"email/{name}.txt", **context)
        html = render_template(f"email/{name}.html", **context)
        subject = render_template(f"email/{name}.subject.txt", **context)
    return Mail(" ".join(subject.split()), text, html)  # one line, whatever the template


def message(to: str, mail: Mail, key: str, headers: dict | None = None) -> EmailMessage:
    """An e-mail of ``mail`` to ``to``, its Message-ID made from ``key``."""
    config = current_app.config
    msg = EmailMessage()
    msg["From"] = config["MAIL_DEFAULT_SENDER"]
    msg["To"] = to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    domain = parseaddr(config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    digest = hashlib.sha256(f"{config['REDIS_PREFIX']}{key}".encode()).hexdigest()[:32]
    msg["Message-ID"] = f"<{digest}@{domain or 'crema.local'}>"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


def send(msg: EmailMessage) -> None:
    """Hand ``msg`` to the SMTP server, or write it to the log without one.

    :raise smtplib.SMTPException, OSError: the server refused or could not be reached
        (the job fails and RQ tries again later).
    """
    config = current_app.config
    server = config["MAIL_SERVER"]
    if not server:
        # The text decoded: in the encoded message a long link is cut across lines.
        headers = "".join(f"{name}: {msg[name]}\n" for name in ("From", "To", "Subject"))
        log.warning("mail (no MAIL_SERVER set, so written here instead of sent):\n%s\n%s",
                    headers, msg.get_body(("plain",)).get_content())
        return
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(server, config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(msg)


def send_once(key: str, user_id: int | None, msg: EmailMessage) -> bool:
    """Send ``msg`` unless mail ``key`` went out already; True when sent now.

    Commits the session (the claim with the send), or rolls it back when sending fails.

    :raise smtplib.SMTPException, OSError: from ``send``; nothing is claimed then.
    """
    # A plain flush, not a savepoint: on SQLite a SAVEPOINT opened outside a transaction
    # (pysqlite begins none for reads) is the transaction, and releasing it commits the
    # claim before the mail is sent, so a failed send would leave it claimed, unsent.
    db.session.add(Delivery(channel=CHANNEL, key=key, user_id=user_id))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        log.info("mail %s was sent before; not sending it again", key)
        return False
    try:
        send(msg)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return True
