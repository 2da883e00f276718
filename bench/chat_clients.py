"""The clients of bench.chat: aiohttp WebSockets in one asyncio loop.

A ``Receiver`` reads its socket in a task of its own and notes, with
``time.perf_counter()`` (CLOCK_MONOTONIC, the same clock as the poster's), when a frame
carrying the ``Probe``'s current token arrives. Crema's sockets also answer
``resume`` first, as static/js/chat.js does on every open.
"""
import asyncio
import json
import re
import resource
import time

import aiohttp

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def raise_open_files(needed: int) -> None:
    """Allow this process ``needed`` descriptors, up to the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < needed:
        raise RuntimeError(f"{needed} open files needed; the hard limit is {hard}")


def session(**connector) -> aiohttp.ClientSession:
    """A session that keeps cookies of 127.0.0.1 (aiohttp drops IP cookies by default)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 connector=aiohttp.TCPConnector(limit=0, **connector))


async def log_in(http: aiohttp.ClientSession, base: str, login: str, password: str) -> None:
    """Log ``http`` in through the log-in form, as a browser does.

    :raise RuntimeError: the form did not answer 303.
    """
    async with http.get(base + "/auth/login") as response:
        page = await response.text()
    token = next(t for t in CSRF.search(page).groups() if t)
    async with http.post(base + "/auth/login", allow_redirects=False,
                         data={"login": login, "password": password, "csrf_token": token}) as r:
        if r.status != 303:
            raise RuntimeError(f"log-in as {login} answered {r.status}")


class Probe:
    """The token of the message in flight, and when each receiver saw it."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.expected = 0
        self.times: dict[str, list[float]] = {}
        self.size = 0  # characters of the last timed frame
        self.done = asyncio.Event()

    def start(self, token: str, expected: int) -> None:
        self.token, self.expected, self.times = token, expected, {}
        self._seen = 0
        self.done.clear()

    def hit(self, group: str, moment: float, size: int) -> None:
        self.times.setdefault(group, []).append(moment)
        self.size = size
        self._seen += 1
        if self._seen >= self.expected:
            self.done.set()


class Receiver:
    """One socket: a task reads every frame; those with the probe's token are timed."""

    def __init__(self, ws, probe: Probe | None, group: str = "") -> None:
        self.ws, self.probe, self.group = ws, probe, group
        self.synced = asyncio.Event()
        self.frames = 0
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.ws:
            moment = time.perf_counter()
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            self.frames += 1
            data = frame.data
            probe = self.probe
            if probe is not None and probe.token is not None and probe.token in data:
                probe.hit(self.group, moment, len(data))
            if not self.synced.is_set() and 'id="sync-' in data:
                self.synced.set()

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def close(self) -> None:
        await self.ws.close()
        await self.task


async def open_room(http: aiohttp.ClientSession, base: str, room_id: int, last_id: int,
                    probe: Probe | None = None, group: str = "") -> Receiver:
    """A Crema room socket, positioned after ``last_id`` (its first frame: resume)."""
    ws = await http.ws_connect(f"{base.replace('http', 'ws', 1)}/chat/{room_id}/ws",
                               origin=base, autoping=True, max_msg_size=0)
    receiver = Receiver(ws, probe, group)
    await receiver.send(json.dumps({"type": "resume", "last_id": last_id}))
    return receiver


async def open_bare(http: aiohttp.ClientSession, base: str, probe: Probe | None = None,
                    group: str = "") -> Receiver:
    """A socket of the bare broadcast (bench.bare_sock)."""
    ws = await http.ws_connect(f"{base.replace('http', 'ws', 1)}/ws", origin=base,
                               autoping=True, max_msg_size=0)
    receiver = Receiver(ws, probe, group)
    receiver.synced.set()
    return receiver


async def open_many(count: int, opener, at_once: int = 50) -> list[Receiver]:
    """``count`` sockets from ``opener()``, ``at_once`` handshakes in flight; each synced."""
    gate = asyncio.Semaphore(at_once)

    async def one():
        async with gate:
            receiver = await opener()
            await asyncio.wait_for(receiver.synced.wait(), 60)
            return receiver

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def close_all(receivers: list[Receiver]) -> None:
    await asyncio.gather(*(r.close() for r in receivers), return_exceptions=True)


async def timed_get(base: str, path: str, timeout: float) -> float | None:
    """Seconds for one GET on a new connection; None when it did not answer 200 in time."""
    async with session(force_close=True) as http:
        start = time.perf_counter()
        try:
            async with http.get(base + path,
                                timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                await response.read()
                if response.status != 200:
                    return None
        except (asyncio.TimeoutError, aiohttp.ClientError):
            return None
        return time.perf_counter() - start
