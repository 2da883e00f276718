"""gunicorn settings for Crema's web process: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# gevent: a page request or a WebSocket is a greenlet, not a thread, so one process
# holds thousands of sockets (each waiting on the network) and still serves pages.
# gevent's pool counts sockets and page requests together: a process takes at most
# CHAT_MAX_SOCKETS chat sockets (the handshake answers 503 beyond, and the page retries
# later), and its pool keeps PAGE_CONNECTIONS more for page requests, so that sockets
# never starve pages (bench.chat: with the pool full of sockets, pages got no answer).
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS") or (
    int(os.environ.get("CHAT_MAX_SOCKETS", "2000")) + int(os.environ.get("PAGE_CONNECTIONS", "500"))))

# No preload: Redis and SQLAlchemy clients (and the broker's listener thread) must be
# created in each worker after the fork, never shared with the master.
preload_app = False

# A restart should not wait on long-lived sockets: they are told to reconnect.
graceful_timeout = 10
timeout = 30
keepalive = 5

# gunicorn 27's control socket is one path per user; several instances on one host
# (tests, a blue/green switch) would take it from each other.
control_socket_disable = True

accesslog = "-"


def post_worker_init(worker):
    """When this worker is told to stop (SIGTERM, a restart, a deploy), close its chat
    and bell sockets at once with 1012 "service restart": htmx's WebSocket extension reconnects
    on that code, to another worker or to this service once it is back, and catches up
    from the database. Without it the sockets would wait out graceful_timeout."""
    import threading
    import time

    def close_sockets_on_stop():
        while worker.alive:
            time.sleep(0.2)
        from webapp.chat.hub import shutdown
        from webapp.notifications import live

        shutdown(worker.wsgi)
        live.shutdown(worker.wsgi)

    threading.Thread(target=close_sockets_on_stop, name="chat-shutdown", daemon=True).start()
