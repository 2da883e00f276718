"""The bot's catalog and account commands (/top, /search, /latest, /settings), their
buttons and the flood limit: the real bot process (``python -m bot``) against the fake
Bot API (tests/fixtures/telegram.py); and the splitter of long messages."""
import itertools
import re

import pytest
from sqlalchemy import select

from bot.messages import MESSAGE_MAX, split, units
from tests.test_bot import BASE_URL, bot_env, polling_bot
from webapp.extensions import db
from webapp.models import Follow, NotificationPref
from webapp.services import ServiceError, follows, notification_prefs, telegram

LIMIT = 15  # bot-command for this module's bot: per Telegram user, per minute
CONNECT_EN = ("Connect your Crema account first: open Settings → Telegram on the site "
              f"({BASE_URL}/settings/telegram).")
STALE_EN = "This button no longer works."
STALE_RU = "Эта кнопка больше не работает."
PROMPT_EN = "What should I search for? Send a coffee, roaster, origin or flavour."
PROMPT_RU = "Что найти? Пришлите название кофе, обжарщика, страну или вкус."
KEYBOARD_EN = [[{"text": "Top"}, {"text": "Latest"}], [{"text": "Search"}, {"text": "Settings"}],
               [{"text": "Help"}]]
KEYBOARD_RU = [[{"text": "Лучшие"}, {"text": "Новое"}], [{"text": "Найти"}, {"text": "Настройки"}],
               [{"text": "Помощь"}]]

telegram_ids = itertools.count(7001)  # a Telegram user of its own per test: limits apart


@pytest.fixture(scope="module")
def bot_process(database_url, _schema, telegram_server, tmp_path_factory):
    env = {**bot_env(database_url, telegram_server.url), "BOT_COMMAND_LIMIT": f"{LIMIT} per minute",
           "BOT_COMMAND_NOTICE_LIMIT": "1 per minute",
           "CATALOG_COUNT_TTL": "0"}  # the tests write the catalog behind the bot's back
    bot = polling_bot(env, telegram_server, tmp_path_factory.mktemp("bot") / "bot.log")
    yield bot
    bot.stop()


@pytest.fixture
def tg(app, telegram_api, bot_process):
    yield telegram_api
    assert bot_process.process.poll() is None, "the bot died:\n" + bot_process.output()


@pytest.fixture
def tid():
    return next(telegram_ids)


def replies(tg, user_id: int) -> list[dict]:
    return [p for p in tg.sent() if str(p["chat_id"]) == str(user_id)]


def ask(tg, text: str, user_id: int, count: int = 1, **who) -> list[dict]:
    """Send ``text`` as ``user_id``; the next ``count`` messages the bot sends them."""
    before = len(replies(tg, user_id))
    tg.push_message(text, user_id=user_id, **who)
    return tg.wait_for_reply(user_id, before + count)[before:]


def say(tg, text: str, user_id: int, **who) -> str:
    return ask(tg, text, user_id, **who)[0]["text"]


def tap(tg, data: str, user_id: int, **options):
    """Tap a button; the bot's answerCallbackQuery to it."""
    before = len(tg.calls_of("answerCallbackQuery"))
    tg.push_callback(data, user_id=user_id, **options)
    return tg.wait_for("answerCallbackQuery", before + 1)[before]


def linked(make_user, tid: int, username: str = "alice", **fields):
    user = make_user(username, **fields)
    telegram.link(telegram.new_token("link", user.id), tid, tid, "Ana", "ana_tg", "en")
    return user


def followed(user_id: int) -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(select(Follow.coffee_id).where(Follow.user_id == user_id)))


def telegram_prefs(user_id: int) -> dict[str, bool]:
    db.session.expire_all()
    return dict(db.session.execute(select(NotificationPref.kind, NotificationPref.enabled).where(
        NotificationPref.user_id == user_id, NotificationPref.channel == "telegram")).all())


def url(coffee) -> str:
    return f"{BASE_URL}/coffees/{coffee.id}"


@pytest.fixture
def ranked(make_user, make_coffee, make_review):
    """Three ranked coffees (3 ratings each) and one with a single rating (unranked)."""
    tasters = [make_user(f"taster{n}") for n in range(3)]
    scores = {"Kochere": (5, 5, 4.5), "Huila": (4, 4, 4), "Santos": (3, 3, 3.5)}
    coffees = {}
    for name, ratings in scores.items():
        coffees[name] = make_coffee(name, roaster="Tim Wendelboe")
        for taster, rating in zip(tasters, ratings):
            make_review(coffees[name], taster, rating)
    coffees["Lonely"] = make_coffee("Lonely")
    make_review(coffees["Lonely"], tasters[0], 5)
    return coffees


class TestTop:
    def test_the_top_rated_coffees_with_links(self, tg, tid, ranked):
        k, h, s = ranked["Kochere"], ranked["Huila"], ranked["Santos"]
        assert say(tg, "/top", tid) == (
            "Top rated on Crema:\n\n"
            f"1. Kochere — Tim Wendelboe · ★ 4.8 (3 ratings)\n{url(k)}\n\n"
            f"2. Huila — Tim Wendelboe · ★ 4.0 (3 ratings)\n{url(h)}\n\n"
            f"3. Santos — Tim Wendelboe · ★ 3.2 (3 ratings)\n{url(s)}")
        assert "parse_mode" not in tg.sent()[-1]

    def test_in_russian(self, tg, tid, ranked):
        assert say(tg, "/top", tid, language_code="ru") == (
            "Лучшие на Crema:\n\n"
            f"1. Kochere — Tim Wendelboe · ★ 4,8 (3 оценки)\n{url(ranked['Kochere'])}\n\n"
            f"2. Huila — Tim Wendelboe · ★ 4,0 (3 оценки)\n{url(ranked['Huila'])}\n\n"
            f"3. Santos — Tim Wendelboe · ★ 3,2 (3 оценки)\n{url(ranked['Santos'])}")

    @pytest.mark.parametrize("language, expected", [
        ("en", "No coffee has enough ratings to rank yet."),
        ("ru", "Пока ни у одного кофе не хватает оценок для рейтинга.")])
    def test_when_nothing_ranks_yet(self, tg, tid, make_coffee, language, expected):
        make_coffee("Unrated")
        assert say(tg, "/top", tid, language_code=language) == expected

    @pytest.mark.parametrize("language, button", [("en", "Top"), ("ru", "Лучшие"),
                                                  ("en", "Лучшие")])
    def test_the_keyboard_button_works_like_the_command(self, tg, tid, ranked, language, button):
        assert say(tg, button, tid, language_code=language) == say(
            tg, "/top", tid, language_code=language)


class TestLatest:
    @pytest.fixture
    def reviewed(self, make_user, make_coffee, make_review):
        kochere = make_coffee("Kochere", roaster="Tim Wendelboe")
        huila = make_coffee("Huila", roaster="Onyx")
        make_review(kochere, make_user("bob", display_name="Bob"), 4.5,
                    body="Blueberry   and\njasmine, very clean.")
        make_review(huila, make_user("carol"), 3)
        return kochere, huila

    def test_the_newest_reviews_first(self, tg, tid, reviewed):
        kochere, huila = reviewed
        assert say(tg, "/latest", tid) == (
            "Newest reviews:\n\n"
            f"Huila (Onyx): ★ 3 by @carol\n{url(huila)}\n\n"
            f"Kochere (Tim Wendelboe): ★ 4.5 by Bob\n“Blueberry and jasmine, very clean.”\n"
            f"{url(kochere)}")

    def test_in_russian_from_the_keyboard(self, tg, tid, reviewed):
        kochere, huila = reviewed
        assert say(tg, "Новое", tid, language_code="ru") == (
            "Новые отзывы:\n\n"
            f"Huila (Onyx): ★ 3 от @carol\n{url(huila)}\n\n"
            f"Kochere (Tim Wendelboe): ★ 4,5 от Bob\n“Blueberry and jasmine, very clean.”\n"
            f"{url(kochere)}")

    @pytest.mark.parametrize("language, expected", [("en", "No reviews yet."),
                                                    ("ru", "Отзывов пока нет.")])
    def test_when_there_are_none(self, tg, tid, language, expected):
        assert say(tg, "/latest", tid, language_code=language) == expected

    def test_a_long_answer_comes_in_parts_cut_between_reviews(self, tg, tid, make_user,
                                                              make_coffee, make_review):
        for n in range(10):
            coffee = make_coffee(f"{n} " + "Very long coffee name " * 5, roaster="R" * 100)
            make_review(coffee, make_user(f"critic{n}"), 4, body="Long words " * 40)
        parts = [p["text"] for p in ask(tg, "/latest", tid, count=2)]
        assert all(units(part) <= MESSAGE_MAX for part in parts)
        entries = "\n\n".join(parts).split("\n\n")
        assert entries[0] == "Newest reviews:" and len(entries) == 11
        assert parts[1].startswith(tuple(f"{n} Very long" for n in range(10)))
        say(tg, "/help", tid)  # handled after /latest: no third part came before it
        assert len(replies(tg, tid)) == 3


class TestSearch:
    @pytest.fixture
    def coffees(self, make_coffee):
        return [make_coffee("Ethiopia Kochere", roaster="Tim Wendelboe", origin="ET"),
                make_coffee("Ethiopia Guji", roaster="Onyx", origin="ET"),
                make_coffee("Huila", roaster="Onyx", origin="CO")]

    def test_results_with_open_and_follow_buttons(self, tg, tid, coffees):
        kochere, guji, _ = coffees
        reply = ask(tg, "/search kochere  guji  ethiopia", tid)[0]
        assert reply["text"] == "No coffees match “kochere guji ethiopia”."
        reply = ask(tg, "/search ethiopia", tid)[0]
        assert reply["text"] == ("Coffees matching “ethiopia” (2):\n"
                                 "1. Ethiopia Guji — Onyx · no ratings yet\n"
                                 "2. Ethiopia Kochere — Tim Wendelboe · no ratings yet")
        assert reply["reply_markup"] == {"inline_keyboard": [
            [{"text": "1. Open", "url": url(guji)},
             {"text": "Follow", "callback_data": f"coffee:follow:{guji.id}"}],
            [{"text": "2. Open", "url": url(kochere)},
             {"text": "Follow", "callback_data": f"coffee:follow:{kochere.id}"}]]}

    def test_in_russian(self, tg, tid, coffees):
        reply = ask(tg, "/search onyx", tid, language_code="ru")[0]
        assert reply["text"] == ("Кофе по запросу «onyx» (2):\n"
                                 "1. Huila — Onyx · оценок пока нет\n"
                                 "2. Ethiopia Guji — Onyx · оценок пока нет")
        assert [row[1]["text"] for row in reply["reply_markup"]["inline_keyboard"]] == [
            "Подписаться", "Подписаться"]
        assert reply["reply_markup"]["inline_keyboard"][0][0]["text"] == "1. Открыть"

    @pytest.mark.parametrize("language, expected", [
        ("en", "No coffees match “kenya”."), ("ru", "Ничего не нашлось по запросу «kenya».")])
    def test_no_results(self, tg, tid, coffees, language, expected):
        assert say(tg, "/search kenya", tid, language_code=language) == expected

    @pytest.mark.parametrize("language, prompt", [("en", PROMPT_EN), ("ru", PROMPT_RU)])
    def test_without_text_it_asks_and_the_answer_searches(self, tg, tid, coffees, language,
                                                          prompt):
        reply = ask(tg, "/search", tid, language_code=language)[0]
        assert reply["text"] == prompt
        assert reply["reply_markup"]["force_reply"] is True
        tg.push(tg.message_reply("huila", reply, user_id=tid, language_code=language))
        answer = tg.wait_for_reply(tid, len(replies(tg, tid)) + 1)[-1]
        assert answer["text"].endswith("1. Huila — Onyx · " + (
            "no ratings yet" if language == "en" else "оценок пока нет"))

    def test_the_search_button_asks_in_either_language(self, tg, tid):
        assert say(tg, "Найти", tid, language_code="en") == PROMPT_EN
        assert say(tg, "Search", tid, language_code="ru") == PROMPT_RU

    def test_a_reply_to_another_message_is_not_a_search(self, tg, tid, coffees):
        """It goes to the replies to notifications (bot/replies.py), which wants a link."""
        tg.push(tg.message_reply("huila", {"text": "Hello"}, user_id=tid))
        assert tg.wait_for_reply(tid)[0]["text"] == (
            "Connect your Crema account first (/start says how); then replies to "
            "notifications are posted in their rooms.")

    @pytest.mark.parametrize("text, language, expected", [
        ("/search eth\x00iopia", "en", "Remove the control characters."),
        ("/search eth\x07iopia", "ru", "Удалите управляющие символы."),
        ("/search eth\x1fiopia", "en", "Remove the control characters."),  # str.split() sees a space
        ("/search " + "e" * 101, "en", "That is too long to search for: at most 100 characters."),
        ("/search " + "e" * 101, "ru", "Слишком длинный запрос: не больше 100 символов.")])
    def test_bad_text_is_refused_politely(self, tg, tid, coffees, text, language, expected):
        assert say(tg, text, tid, language_code=language) == expected

    def test_a_hundred_characters_are_searched(self, tg, tid, coffees):
        assert say(tg, "/search " + "e" * 100, tid) == f"No coffees match “{'e' * 100}”."

    def test_followed_coffees_show_as_followed(self, tg, tid, make_user, coffees):
        alice = linked(make_user, tid)
        follows.follow(alice.id, coffee_id=coffees[2].id)
        markup = ask(tg, "/search huila", tid)[0]["reply_markup"]
        assert markup["inline_keyboard"][0][1] == {
            "text": "✓ Following", "callback_data": f"coffee:unfollow:{coffees[2].id}"}


class TestFollowButtons:
    @pytest.fixture
    def results(self, make_coffee):
        return make_coffee("Ethiopia Kochere"), make_coffee("Ethiopia Guji")

    def test_follow_then_unfollow(self, tg, tid, make_user, results):
        kochere, guji = results
        alice = linked(make_user, tid)
        markup = ask(tg, "/search ethiopia", tid)[0]["reply_markup"]
        answer = tap(tg, f"coffee:follow:{kochere.id}", tid, message_id=42, reply_markup=markup)
        assert answer.params["text"] == "Following Ethiopia Kochere."
        assert followed(alice.id) == {kochere.id}
        edit = tg.wait_for("editMessageReplyMarkup")[-1].params
        assert (str(edit["chat_id"]), str(edit["message_id"])) == (str(tid), "42")
        assert edit["reply_markup"]["inline_keyboard"] == [
            [{"text": "1. Open", "url": url(guji)},
             {"text": "Follow", "callback_data": f"coffee:follow:{guji.id}"}],
            [{"text": "2. Open", "url": url(kochere)},
             {"text": "✓ Following", "callback_data": f"coffee:unfollow:{kochere.id}"}]]
        answer = tap(tg, f"coffee:unfollow:{kochere.id}", tid, reply_markup=edit["reply_markup"])
        assert answer.params["text"] == "No longer following Ethiopia Kochere."
        assert followed(alice.id) == set()
        edit = tg.wait_for("editMessageReplyMarkup", 2)[-1].params
        assert edit["reply_markup"] == markup

    def test_a_tap_delivered_twice_follows_once(self, tg, tid, make_user, results):
        alice = linked(make_user, tid)
        tap(tg, f"coffee:follow:{results[0].id}", tid)
        answer = tap(tg, f"coffee:follow:{results[0].id}", tid)
        assert answer.params["text"] == "Following Ethiopia Kochere."
        assert followed(alice.id) == {results[0].id}

    @pytest.mark.parametrize("status", [400, 403])
    def test_a_message_telegram_will_not_edit_still_gets_the_tap_answered(
            self, tg, tid, make_user, results, status):
        alice = linked(make_user, tid)
        markup = ask(tg, "/search kochere", tid)[0]["reply_markup"]
        tg.fail("editMessageReplyMarkup", status)  # "message is not modified", or blocked
        answer = tap(tg, f"coffee:follow:{results[0].id}", tid, reply_markup=markup)
        assert answer.params["text"] == "Following Ethiopia Kochere."
        assert followed(alice.id) == {results[0].id}
        assert tg.calls_of("editMessageReplyMarkup")[0].status == status

    def test_in_russian(self, tg, tid, make_user, results):
        alice = linked(make_user, tid, locale="ru")
        markup = ask(tg, "/search guji", tid)[0]["reply_markup"]
        answer = tap(tg, f"coffee:follow:{results[1].id}", tid, reply_markup=markup)
        assert answer.params["text"] == "Вы подписались на Ethiopia Guji."
        assert tg.wait_for("editMessageReplyMarkup")[-1].params["reply_markup"][
            "inline_keyboard"][0][1]["text"] == "✓ Вы подписаны"
        answer = tap(tg, f"coffee:unfollow:{results[1].id}", tid)
        assert answer.params["text"] == "Вы отписались от Ethiopia Guji."
        assert followed(alice.id) == set()

    def test_an_unlinked_user_is_told_to_connect(self, tg, tid, make_user, results):
        bob = make_user("bob")
        answer = tap(tg, f"coffee:follow:{results[0].id}", tid)
        assert answer.params["text"] == CONNECT_EN
        assert answer.params["show_alert"] in (True, "true", "True")
        assert followed(bob.id) == set()
        assert tg.calls_of("editMessageReplyMarkup") == []

    def test_a_coffee_gone_since(self, tg, tid, make_user, results):
        alice = linked(make_user, tid)
        answer = tap(tg, "coffee:follow:999999", tid)
        assert answer.params["text"] == STALE_EN
        assert followed(alice.id) == set()
        assert tg.calls_of("editMessageReplyMarkup") == []


class TestForgedButtons:
    @pytest.mark.parametrize("data", [
        "coffee:follow:abc", "coffee:follow:-1", "coffee:follow:01", "coffee:follow:1 ",
        "coffee:follow:99999999999", "coffee:subscribe:1", "coffee:follow:1:2",
        "prefs:email:on", "prefs:chat:maybe", "prefs:chat", "prefs:chat:on\x00",
        "coffee:follow:" + "1" * 60, "x" * 65, ""])
    def test_nothing_changes(self, tg, tid, make_user, make_coffee, data):
        alice = linked(make_user, tid)
        make_coffee("Kochere")
        assert tap(tg, data, tid, language_code="ru").params["text"] == STALE_RU
        assert followed(alice.id) == set() and telegram_prefs(alice.id) == {}
        assert tg.calls_of("editMessageReplyMarkup") == tg.calls_of("editMessageText") == []


SETTINGS_EN = ("Notifications in Telegram (tap to turn on or off):\n"
               "Chat messages: {chat}\nMentions and replies: {mentions}\n"
               "Reviews of coffees you follow: {reviews}")
SETTINGS_RU = ("Уведомления в Telegram (нажмите, чтобы включить или выключить):\n"
               "Сообщения в чатах: {chat}\nУпоминания и ответы: {mentions}\n"
               "Отзывы о кофе, на который вы подписаны: {reviews}")


def pref_buttons(chat: bool, mentions: bool, reviews: bool, labels: tuple[str, ...]) -> list:
    return [[{"text": f"{'✅' if on else '⬜'} {label}",
              "callback_data": f"prefs:{kind}:{'off' if on else 'on'}"}]
            for kind, on, label in zip(("chat", "mentions", "reviews"), (chat, mentions, reviews),
                                       labels)]


LABELS_EN = ("Chat messages", "Mentions and replies", "Reviews of coffees you follow")
LABELS_RU = ("Сообщения в чатах", "Упоминания и ответы", "Отзывы о кофе, на который вы подписаны")


class TestSettings:
    """Telegram's defaults (webapp/services/notification_prefs.py DEFAULT_PREFS): chat off,
    mentions and replies on, reviews on."""

    def test_toggles_persist(self, tg, tid, make_user):
        alice = linked(make_user, tid)
        reply = ask(tg, "/settings", tid)[0]
        assert reply["text"] == SETTINGS_EN.format(chat="off", mentions="on", reviews="on")
        assert reply["reply_markup"]["inline_keyboard"] == pref_buttons(False, True, True,
                                                                        LABELS_EN)
        answer = tap(tg, "prefs:mentions:off", tid, message_id=77)
        assert answer.params["text"] == "Mentions and replies: off"
        assert telegram_prefs(alice.id) == {"mentions": False}
        edit = tg.wait_for("editMessageText")[-1].params
        assert (str(edit["chat_id"]), str(edit["message_id"])) == (str(tid), "77")
        assert edit["text"] == SETTINGS_EN.format(chat="off", mentions="off", reviews="on")
        assert edit["reply_markup"]["inline_keyboard"] == pref_buttons(False, False, True,
                                                                       LABELS_EN)
        tap(tg, "prefs:chat:on", tid)
        answer = tap(tg, "prefs:mentions:on", tid)
        assert answer.params["text"] == "Mentions and replies: on"
        assert telegram_prefs(alice.id) == {"mentions": True, "chat": True}
        # The site's own choices are untouched.
        db.session.expire_all()
        assert db.session.scalar(select(NotificationPref.id).where(
            NotificationPref.channel != "telegram")) is None
        assert say(tg, "/settings", tid) == SETTINGS_EN.format(chat="on", mentions="on",
                                                               reviews="on")

    def test_in_russian_from_the_keyboard(self, tg, tid, make_user):
        alice = linked(make_user, tid, locale="ru")
        reply = ask(tg, "Настройки", tid)[0]
        assert reply["text"] == SETTINGS_RU.format(chat="выкл.", mentions="вкл.",
                                                   reviews="вкл.")
        answer = tap(tg, "prefs:reviews:off", tid)
        assert answer.params["text"] == "Отзывы о кофе, на который вы подписаны: выкл."
        edit = tg.wait_for("editMessageText")[-1].params
        assert edit["reply_markup"]["inline_keyboard"] == pref_buttons(False, True, False,
                                                                       LABELS_RU)
        assert telegram_prefs(alice.id) == {"reviews": False}

    @pytest.mark.parametrize("language, expected", [
        ("en", CONNECT_EN),
        ("ru", "Сначала подключите аккаунт Crema: откройте на сайте Настройки → Telegram "
               f"({BASE_URL}/settings/telegram).")])
    def test_only_for_linked_users(self, tg, tid, language, expected):
        assert say(tg, "/settings", tid, language_code=language) == expected
        assert tap(tg, "prefs:chat:on", tid, language_code=language).params["text"] == expected
        assert db.session.scalar(select(NotificationPref.id)) is None


class TestKeyboard:
    @pytest.mark.parametrize("language, expected", [("en", KEYBOARD_EN), ("ru", KEYBOARD_RU)])
    def test_start_and_help_bring_the_main_actions(self, tg, tid, language, expected):
        for command in ("/start", "/help"):
            reply = ask(tg, command, tid, language_code=language)[0]
            assert reply["reply_markup"]["keyboard"] == expected


class TestFloodLimit:
    def test_past_the_limit_nothing_is_done_and_one_reply_says_so(self, tg, tid, make_user,
                                                                  make_coffee):
        alice = linked(make_user, tid)
        kochere = make_coffee("Kochere")
        for _ in range(LIMIT):
            tg.push_message("/help", user_id=tid)
        tg.wait_for_reply(tid, LIMIT)
        for text in ("/top", "/settings", "/search kochere"):
            tg.push_message(text, user_id=tid, language_code="ru")
        refused = tap(tg, f"coffee:follow:{kochere.id}", tid)
        assert re.fullmatch(r"Too many messages at once\. Please try again in \d+ s\.",
                            refused.params["text"])
        other = next(telegram_ids)
        say(tg, "/help", other)  # handled after all of the above
        flooded = replies(tg, tid)[LIMIT:]
        assert len(flooded) == 1  # one notice, nothing done
        seconds = int(re.fullmatch(r"Слишком много сообщений подряд\. Попробуйте снова "
                                   r"через (\d+) с\.", flooded[0]["text"])[1])
        assert 0 < seconds <= 60
        assert followed(alice.id) == set()
        assert say(tg, "/help", other).startswith("What I can do:")  # the limit is per user


class TestSplit:
    def test_a_short_text_is_one_part(self):
        assert split("hello\nworld") == ["hello\nworld"]

    def test_parts_are_cut_between_lines(self):
        lines = [f"line {n:04d} " + "x" * 40 for n in range(300)]
        parts = split("\n".join(lines))
        assert len(parts) > 1 and all(units(p) <= MESSAGE_MAX for p in parts)
        assert "\n".join(parts).split("\n") == lines

    def test_length_is_counted_as_telegram_does(self):
        text = "☕🫘" * 1500  # the bean is outside the BMP: 3 units a pair, 4500 in all
        parts = split(text)
        assert [units(p) for p in parts] == [4096, 404]
        assert "".join(parts) == text

    def test_a_long_line_is_cut_at_spaces(self):
        words = [f"word{n:04d}" for n in range(1000)]
        parts = split(" ".join(words), limit=100)
        assert all(units(p) <= 100 for p in parts)
        assert " ".join(parts).split(" ") == words

    def test_a_word_longer_than_a_message(self):
        assert split("a" * 250, limit=100) == ["a" * 100, "a" * 100, "a" * 50]

    def test_empty_lines_between_parts_are_dropped(self):
        assert split("a" * 10 + "\n\n\n" + "b" * 10, limit=10) == ["a" * 10, "b" * 10]


class TestServices:
    def test_set_pref_keeps_a_choice_for_a_channel_not_registered_yet(self, app, make_user):
        alice = make_user("alice")
        notification_prefs.set_pref(alice.id, "chat", "telegram", True)
        assert telegram_prefs(alice.id) == {"chat": True}
        assert notification_prefs.channel_prefs([alice.id], "telegram")[(alice.id, "chat")] is True

    @pytest.mark.parametrize("kind, channel", [("chat", "sms"), ("likes", "telegram"),
                                               ("", "telegram")])
    def test_set_pref_refuses_what_does_not_exist(self, app, make_user, kind, channel):
        alice = make_user("alice")
        with pytest.raises(ServiceError):
            notification_prefs.set_pref(alice.id, kind, channel, True)
        assert db.session.scalar(select(NotificationPref.id)) is None

    def test_followed_coffees(self, app, make_user, make_coffee):
        alice, bob = make_user("alice"), make_user("bob")
        a, b, c = make_coffee(), make_coffee(), make_coffee()
        follows.follow(alice.id, coffee_id=a.id)
        follows.follow(alice.id, coffee_id=c.id)
        follows.follow(bob.id, coffee_id=b.id)
        assert follows.followed_coffees(alice.id, [a.id, b.id]) == {a.id}
        assert follows.followed_coffees(alice.id, []) == set()
