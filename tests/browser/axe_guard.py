"""axe-core inside the browser tests: every state a test waits for is checked.

`AxeGuard.check` runs axe-core (tests/browser/axe.min.js, see README.md here) on a
tab's current document and keeps what it finds; the test fails at its end listing
every violation (rule, impact, target selectors, help URL, where it was seen). The
page fixtures check after each navigation, `steps.expect` after each assertion that
holds (an htmx swap the test waited for), and the fixture once more at the end.
"""
import hashlib
import inspect
import weakref
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError

AXE_JS = Path(__file__).with_name("axe.min.js")
# WCAG 2.0 and 2.1, levels A and AA, plus Deque's best practices (landmarks, one <h1>,
# heading order, unique landmark labels); not the experimental or AAA rules.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

# Wait until htmx has settled and CSS transitions have ended (the catalog fades while a
# search runs): a half-faded page would fail colour contrast for a state nobody sees.
QUIET = """async () => {
  const busy = () => document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')
    || document.getAnimations().some(a => a.playState === 'running');
  const end = Date.now() + 3000;
  while (busy() && Date.now() < end) await new Promise(r => setTimeout(r, 25));
}"""
RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                          resultTypes: ['violations']});
  return result.violations.map(v => ({rule: v.id, impact: v.impact, help: v.help,
    help_url: v.helpUrl, targets: v.nodes.map(n => n.target.join(' '))}));
}"""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    help_url: str
    targets: tuple[str, ...]
    url: str
    where: str

    def __str__(self) -> str:
        return (f"- {self.rule} ({self.impact}): {self.help}\n"
                f"  on {self.url} (checked {self.where})\n"
                f"  targets: {', '.join(self.targets)}\n"
                f"  {self.help_url}")


class AxeGuard:
    """Runs axe on one tab whenever what it shows has changed since the last run.

    A tab with JavaScript disabled cannot run axe (timers never fire there), so its
    document, as it stands, is loaded into a JavaScript-enabled companion tab whose
    scripts are blocked: the same markup and CSS, still without the app's scripts.
    """

    def __init__(self, page, javascript=True):
        self.page = page
        self.javascript = javascript
        self.violations: list[Violation] = []
        self.checks = 0
        self._seen: set[tuple] = set()
        self._last_state = None
        self._companion = None
        self._snapshot = ""

    def check(self, where: str | None = None) -> list[Violation]:
        """Run axe unless the tab shows what it showed at the last run; return what it found."""
        if self.page.is_closed() or self.page.url == "about:blank":
            return []
        where = where or _caller()
        try:
            return self._check(where)
        except PlaywrightError as error:
            # The test had already set off a navigation, which replaced the document
            # during the run: check the new one.
            if "context was destroyed" not in str(error):
                raise
            return self._check(where)

    def _check(self, where: str) -> list[Violation]:
        page = self.page
        page.wait_for_load_state("load")
        if self.javascript:
            page.evaluate(QUIET)
        html = page.content()
        state = (page.url, str(page.viewport_size), hashlib.sha1(html.encode()).hexdigest())
        if state == self._last_state:
            return []
        target = page if self.javascript else self._load_companion(html)
        if not target.evaluate("typeof axe !== 'undefined'"):
            # Evaluated rather than added as a <script>: the app's CSP (script-src 'self')
            # rightly blocks inline scripts, and bypassing CSP would hide CSP bugs.
            target.evaluate(AXE_JS.read_text(encoding="utf-8"))
        found = target.evaluate(RUN, TAGS)
        self._last_state = state
        self.checks += 1
        new = []
        for v in found:
            key = (page.url, v["rule"], tuple(v["targets"]))
            if key in self._seen:
                continue
            self._seen.add(key)
            new.append(Violation(v["rule"], v["impact"], v["help"], v["help_url"],
                                 tuple(v["targets"]), page.url, where))
        self.violations += new
        return new

    def report(self) -> str:
        return (f"axe-core found {len(self.violations)} accessibility violation(s) "
                f"in {self.checks} check(s):\n" + "\n".join(map(str, self.violations)))

    def close(self) -> None:
        if self._companion is not None:
            self._companion.context.close()

    def _load_companion(self, html: str):
        page = self.page
        self._snapshot = html
        if self._companion is None:
            context = page.context.browser.new_context(viewport=page.viewport_size)
            self._companion = context.new_page()
            self._companion.route("**/*", self._serve_snapshot)
        self._companion.set_viewport_size(page.viewport_size)
        self._companion.goto("about:blank")  # so that a URL differing only in #hash loads anew
        self._companion.goto(page.url)
        self._companion.evaluate(QUIET)
        return self._companion

    def _serve_snapshot(self, route) -> None:
        request = route.request
        if request.is_navigation_request():
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self._snapshot)
        elif request.resource_type == "script":
            route.abort()
        else:
            route.continue_()


_GUARDS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def attach(page, guard: AxeGuard) -> None:
    _GUARDS[page] = guard


def guard_of(page) -> AxeGuard | None:
    """The guard watching ``page``, if a fixture opened it."""
    return _GUARDS.get(page)


def _caller() -> str:
    """The test line that led to this check, e.g. ``test_catalog.py:57``."""
    for frame in inspect.stack()[2:]:
        name = Path(frame.filename).name
        if name.startswith("test_"):
            return f"after {name}:{frame.lineno}"
    return "at the end of the test"
