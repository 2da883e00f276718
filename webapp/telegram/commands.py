"""``flask telegram set-webhook [URL]`` and ``flask telegram delete-webhook``."""
import click
from flask import current_app, url_for
from telebot.apihelper import ApiException

from webapp.telegram import bp, updates


def _bot():
    config = current_app.config
    if not (config.get("TELEGRAM_BOT_TOKEN") and config.get("TELEGRAM_BOT_USERNAME")):
        raise click.ClickException("Set TELEGRAM_BOT_TOKEN and TELEGRAM_BOT_USERNAME first "
                                   "(from @BotFather).")
    return updates.bot_of(current_app._get_current_object())


@bp.cli.command("set-webhook")
@click.argument("url", required=False)
def set_webhook(url: str | None) -> None:
    """Have Telegram send updates to URL (default: BASE_URL's /telegram/webhook) with
    TELEGRAM_WEBHOOK_SECRET; python -m bot must not run then."""
    from bot import ALLOWED_UPDATES

    bot = _bot()
    secret = current_app.config.get("TELEGRAM_WEBHOOK_SECRET")
    if not secret:
        raise click.ClickException("Set TELEGRAM_WEBHOOK_SECRET first (1-256 of A-Z a-z 0-9 _ -), "
                                   "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'.")
    if not url:
        with current_app.test_request_context("/", base_url=current_app.config["BASE_URL"]):
            url = url_for("telegram.webhook", _external=True)
    try:
        bot.set_webhook(url=url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
    except ApiException as err:
        raise click.ClickException(f"Telegram refused: {err}") from None
    click.echo(f"Telegram now sends updates to {url}.")


@bp.cli.command("delete-webhook")
def delete_webhook() -> None:
    """Stop webhook delivery (python -m bot polls instead)."""
    bot = _bot()
    try:
        bot.delete_webhook()
    except ApiException as err:
        raise click.ClickException(f"Telegram refused: {err}") from None
    click.echo("Webhook removed; run python -m bot to poll.")
