"""The baseline of bench.chat's fan-out: a bare flask-sock broadcast.

Each socket is put in one list; a frame received on any socket is sent, as it came, to
every socket in the list, one after the other from the receiving handler, with a lock
per socket (as Crema's sockets send). No database, no broker, no rendering: what
flask-sock under gunicorn's gevent worker costs by itself.

    gunicorn --worker-class gevent --workers 1 bench.bare_sock:app
"""
import threading

from flask import Flask
from flask_sock import Sock
from simple_websocket import ConnectionClosed

app = Flask(__name__)
# As Crema's Config: a ping every 25 s, frames up to 1 MiB.
app.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": 25, "max_message_size": 1024 * 1024}
sock = Sock(app)
_sockets: list = []
_sockets_lock = threading.Lock()


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@sock.route("/ws")
def broadcast(ws):
    entry = (ws, threading.Lock())
    with _sockets_lock:
        _sockets.append(entry)
    try:
        while True:
            data = ws.receive()
            with _sockets_lock:
                everyone = list(_sockets)
            for other, lock in everyone:
                try:
                    with lock:
                        other.send(data)
                except ConnectionClosed:
                    pass
    finally:
        with _sockets_lock:
            _sockets.remove(entry)
