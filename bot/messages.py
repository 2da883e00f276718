"""Sending text that may be longer than one Telegram message.

Telegram refuses a message over 4096 characters, counted in UTF-16 code units (an
emoji outside the Basic Multilingual Plane counts twice), so pyTelegramBotAPI's
``smart_split``, which counts Python characters, could still send one too long.
``split`` cuts between paragraphs, else lines, else words.
"""
from telebot import TeleBot

MESSAGE_MAX = 4096  # UTF-16 code units


def units(text: str) -> int:
    """The length of ``text`` as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


SEPARATORS = ("\n\n", "\n", " ")  # where a cut goes, best first


def split(text: str, limit: int = MESSAGE_MAX) -> list[str]:
    """``text`` in parts of at most ``limit`` units: cut between paragraphs where it can,
    else between lines, else at a space, else anywhere (never inside a character). The
    separator at a cut is dropped; so are parts left blank."""
    parts = [part for part in _pack(text, limit, SEPARATORS) if part.strip()]
    return parts or [text[:limit]]


def _pack(text: str, limit: int, separators: tuple[str, ...]) -> list[str]:
    if units(text) <= limit:
        return [text]
    if not separators:
        return _cut(text, limit)
    separator, finer = separators[0], separators[1:]
    parts, current = [], ""
    for piece in text.split(separator):
        candidate = f"{current}{separator}{piece}" if current else piece
        if units(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        pieces = _pack(piece, limit, finer)
        parts.extend(pieces[:-1])
        current = pieces[-1]
    parts.append(current)
    return parts


def _cut(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` units, wherever that falls."""
    pieces, current, size = [], [], 0
    for char in text:
        width = units(char)
        if size + width > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return pieces


def send(bot: TeleBot, chat_id: int, text: str, reply_markup=None) -> None:
    """``text`` in as many messages as it needs; ``reply_markup`` on the last one (its
    buttons belong with the end of the text)."""
    parts = split(text)
    for part in parts[:-1]:
        bot.send_message(chat_id, part)
    bot.send_message(chat_id, parts[-1], reply_markup=reply_markup)
