"""Layers a bot and an API can reuse: routes do not import each other, models do not
import the request layer, page data comes from read functions, and translated labels
are right in whatever context they are first asked for."""
import ast
import contextlib
import subprocess
import sys
import threading
from dataclasses import is_dataclass
from pathlib import Path

import pytest

from webapp.extensions import db
from webapp.models import PROCESSES, User
from webapp.services import NotFound, pages
from webapp.vocabulary import Vocabulary
from webapp.vocabulary import lazy_label as _l

ROOT = Path(__file__).resolve().parent.parent
WEBAPP = ROOT / "webapp"
BLUEPRINTS = sorted(p.parent.name for p in WEBAPP.glob("*/routes.py"))


def module_path(name: str) -> Path | None:
    """The file of a ``webapp`` module, or None for anything else."""
    if name != "webapp" and not name.startswith("webapp."):
        return None
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def imports(path: Path) -> set[str]:
    """Every module ``path`` names in an import statement, and ``module.name`` for
    each name taken from a module (it may be a submodule: ``from webapp.x import routes``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def reachable(start: str, stop=()) -> dict[str, set[str]]:
    """The imports of ``start`` and of every webapp module it reaches through its
    import statements, except ``stop``, the app factory and the blueprints' packages
    (whose ``__init__`` only registers the package's own routes)."""
    stop = {*stop, "webapp", *(f"webapp.{b}" for b in BLUEPRINTS)}
    seen, todo = {}, [start]
    while todo:
        name = todo.pop()
        path = module_path(name)
        if name in seen or name in stop or path is None:
            continue
        seen[name] = imports(path)
        todo.extend(seen[name])
    return seen


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_routes_never_import_another_blueprints_routes(blueprint):
    others = {f"webapp.{b}.routes" for b in BLUEPRINTS if b != blueprint}
    found = {(module, name) for module, names in reachable(f"webapp.{blueprint}.routes").items()
             for name in names if name in others}
    assert not found


# What only makes sense while answering an HTTP request.
REQUEST_LAYER = {"flask.request", "flask.session", "flask.flash", "flask.redirect",
                 "flask.abort", "flask.render_template", "flask.make_response", "flask_login",
                 "webapp.i18n", "webapp.htmx", "webapp.forms",
                 *(f"webapp.{b}.routes" for b in BLUEPRINTS)}


def test_models_do_not_import_the_request_layer():
    # webapp.extensions only creates the extension objects (the login manager among
    # them); the models take ``db`` from it.
    found = {(module, name)
             for module, names in reachable("webapp.models", stop={"webapp.extensions"}).items()
             for name in names
             if name in REQUEST_LAYER or name.startswith("flask_login.")}
    assert not found


def test_importing_the_models_loads_no_request_code():
    code = ("import sys, webapp.models; "
            "print(sorted(m for m in sys.modules if m in ('webapp.i18n', 'webapp.htmx') "
            "or m.endswith('.routes')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


class TestReadModels:
    @pytest.fixture
    def scene(self, make_user, make_coffee, make_review):
        owner = make_user("owner")
        reader = make_user("reader")
        make_user("mod", role="moderator")
        coffee = make_coffee("Kochere", by=owner, notes=["blueberry"])
        make_review(coffee, owner, 4, tags=["blueberry"], body="Berries")
        make_review(coffee, reader, 2.5, "espresso")
        ids = {"coffee": coffee.id, "owner": owner.id, "reader": reader.id,
               "mod": db.session.scalar(db.select(User.id).where(User.username == "mod"))}
        db.session.remove()  # the read functions load what they need themselves
        return ids

    def test_coffee_page_is_plain_data_loaded_for_use_outside_the_session(self, app, scene):
        page = pages.coffee_page(scene["coffee"], scene["reader"], "highest", 1)
        assert is_dataclass(page) and isinstance(page, pages.CoffeePage)
        db.session.close()  # detached: anything not loaded would now raise
        assert (page.coffee.name, page.coffee.notes, page.coffee.added_by.username) == (
            "Kochere", ["blueberry"], "owner")
        assert [(r.user.username, r.stars, r.tags) for r in page.reviews.items] == [
            ("owner", 4.0, ["blueberry"]), ("reader", 2.5, [])]
        assert (page.review_sort, page.reviews.total, page.mine.stars) == ("highest", 2, 2.5)
        assert [(b.method, b.count, b.mean) for b in page.brews] == [
            ("espresso", 1, 2.5), ("pour-over", 1, 4.0)]
        assert [(f.tag, f.percent) for f in page.flavours["bag"]] == [("blueberry", 100)]
        assert (page.can_edit, page.can_delete) == (False, False)

    @pytest.mark.parametrize("viewer, can_edit, can_delete, has_review", [
        (None, False, False, False), ("owner", True, False, True),
        ("reader", False, False, True), ("mod", True, True, False)])
    def test_coffee_page_for_each_viewer(self, app, scene, viewer, can_edit, can_delete,
                                         has_review):
        page = pages.coffee_page(scene["coffee"], scene.get(viewer))
        assert (page.can_edit, page.can_delete, page.mine is not None) == (
            can_edit, can_delete, has_review)

    def test_unknown_sort_and_out_of_range_pages_are_clamped(self, app, scene):
        page = pages.coffee_page(scene["coffee"], None, "cheapest", 10**9, per_page=1)
        assert (page.review_sort, page.reviews.page, page.reviews.items) == (
            "newest", pages.PAGE_MAX, [])
        assert pages.coffee_page(scene["coffee"], None, None, -5, per_page=1).reviews.page == 1

    def test_profile_page(self, app, scene):
        page = pages.profile_page("OWNER", 1)
        assert isinstance(page, pages.ProfilePage)
        db.session.close()
        assert page.user.username == "owner"
        assert (page.stats["reviews"], page.stats["average"], page.stats["origins"]) == (
            1, 4.0, [("ET", 1)])
        assert [(r.coffee.name, r.tags) for r in page.reviews.items] == [("Kochere", ["blueberry"])]

    def test_unknown_ids_raise_not_found(self, app, scene):
        with pytest.raises(NotFound):
            pages.coffee_page(999_999)
        with pytest.raises(NotFound):
            pages.profile_page("nobody")


@contextlib.contextmanager
def request(app, language: str):
    """A request in ``language`` with an app context of its own, as in production
    (flask-babel keeps the request's language on the app context's ``g``)."""
    with app.app_context(), app.test_request_context(headers={"Accept-Language": language}):
        yield


class TestLabelsOutsideRequests:
    """A label asked for in one language is cached in that language, whatever the context."""

    @staticmethod
    def in_plain_thread(func):
        # A new thread starts with no app context and no request.
        out = []
        thread = threading.Thread(target=lambda: out.append(func()))
        thread.start()
        thread.join(10)
        return out[0]

    def test_russian_outside_any_app_context_then_english_and_russian_requests(self, app):
        vocab = Vocabulary(PROCESSES)
        assert self.in_plain_thread(lambda: vocab.label("washed", "ru")) == "Мытая"
        with request(app, "en"):
            assert vocab.label("washed") == "Washed"
        with request(app, "ru"):
            assert vocab.label("washed") == "Мытая"
            assert vocab.label("honey") == "Хани"  # the process, not the flavour

    def test_english_outside_any_app_context_then_a_russian_request(self, app):
        vocab = Vocabulary(PROCESSES)
        assert self.in_plain_thread(lambda: vocab.label("washed", "en")) == "Washed"
        with request(app, "ru"):
            assert vocab.label("washed") == "Мытая"

    @pytest.mark.parametrize("first, then", [("ru", "en"), ("en", "ru")])
    def test_bare_app_context_then_a_request_in_the_other_language(self, app, first, then):
        vocab = Vocabulary(PROCESSES)
        expected = {"en": "Natural", "ru": "Натуральная"}
        with app.app_context():
            assert vocab.label("natural", first) == expected[first]
        with request(app, then):
            assert vocab.label("natural") == expected[then]

    def test_default_language_outside_a_request(self, app):
        vocab = Vocabulary(PROCESSES)
        with app.app_context():
            assert vocab.label("washed") == "Washed"
        assert self.in_plain_thread(lambda: vocab.label("washed")) == "Washed"

    def test_labels_are_lazy_in_requests(self, app):
        label = _l("Washed")
        with request(app, "ru"):
            assert str(label) == "Мытая"
        with request(app, "en"):
            assert str(label) == "Washed"

    def test_only_labels_can_be_translated_per_language(self):
        from flask_babel import lazy_gettext

        with pytest.raises(TypeError):
            Vocabulary({"washed": lazy_gettext("Washed")})

    def test_flavour_search_words_built_outside_a_request_hold_both_languages(self):
        from webapp import flavours

        fresh = Vocabulary(flavours.LABELS)
        words = self.in_plain_thread(
            lambda: " ".join(fresh.label(s, loc) for s in ("blueberry", "berry") for loc in ("en", "ru")))
        assert words == "Blueberry Черника Berry Ягоды"

