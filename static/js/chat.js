// Crema's live chat, on top of htmx's WebSocket extension (static/vendor/htmx-ext-ws).
// Without this file the chat still works: the composer posts a form and pages reload.
(function () {
  "use strict";

  function roomOf(elt) { return elt && elt.closest ? elt.closest(".chat-room") : null; }

  function lastId(room) {
    var ids = Array.prototype.map.call(room.querySelectorAll(".messages > .msg[data-id]"),
      function (m) { return parseInt(m.dataset.id, 10) || 0; });
    return ids.length ? Math.max.apply(null, ids) : 0;
  }

  function nearBottom(log) { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }

  function newId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // Socket messages are swapped out of band with no dedupe: drop a new message the
  // page already shows (a catch-up after a reconnect can overlap what arrived live).
  if (window.htmx) {
    htmx.defineExtension("crema-chat", {
      transformResponse: function (text, xhr, elt) {
        if (xhr || text.indexOf('hx-swap-oob="beforeend"') < 0) { return text; }
        var template = document.createElement("template");
        template.innerHTML = text;
        template.content.querySelectorAll(".msg[id]").forEach(function (msg) {
          if (document.getElementById(msg.id)) { msg.remove(); }
        });
        return template.innerHTML;
      }
    });
  }

  // On every (re)connect, tell the server which messages this page has.
  document.addEventListener("htmx:wsOpen", function (e) {
    var room = roomOf(e.target);
    if (!room) { return; }
    var sync = room.querySelector("[data-synced-at]");
    e.detail.socketWrapper.sendImmediately(JSON.stringify({
      type: "resume", last_id: lastId(room),
      synced_at: sync ? sync.dataset.syncedAt : null
    }));
    room.classList.remove("offline");
  });

  document.addEventListener("htmx:wsClose", function (e) {
    var room = roomOf(e.target);
    if (room) { room.classList.add("offline"); }
  });

  // Each message carries an id of its own: a message queued while offline and sent
  // twice is stored once.
  document.addEventListener("htmx:wsConfigSend", function (e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("composer")) { return; }
    var id = newId();
    form.dataset.pending = id;
    e.detail.parameters.client_id = id;
    delete e.detail.parameters.csrf_token;
  });

  var stick = new WeakMap();
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var room = roomOf(e.target);
    var log = room && room.querySelector(".chat-log");
    if (log) { stick.set(room, nearBottom(log)); }
  });

  document.addEventListener("htmx:wsAfterMessage", function (e) {
    var room = roomOf(e.target);
    if (!room) { return; }
    var log = room.querySelector(".chat-log");
    if (log && stick.get(room)) { log.scrollTop = log.scrollHeight; }
    var form = room.querySelector("form.composer");
    var status = room.querySelector(".chat-status[data-sent]");
    if (form && status && status.dataset.sent === form.dataset.pending) {
      delete form.dataset.pending;
      // A refusal names the message too: keep its text so that it can be sent again.
      if (!status.classList.contains("error")) {
        form.reset();
        setReply(room, null);
      }
    }
  });

  function setReply(room, msg) {
    var id = room.dataset.room;
    var input = document.getElementById("reply-to-" + id);
    var box = document.getElementById("replying-" + id);
    if (!input || !box) { return false; }
    input.value = msg ? msg.dataset.id : "";
    box.hidden = !msg;
    if (msg) {
      var author = msg.querySelector(".msg-author");
      var body = msg.querySelector(".msg-body");
      var text = (body ? body.textContent : "").replace(/\s+/g, " ").trim();
      box.querySelector("span").textContent = box.dataset.label
        ? box.dataset.label.replace("%s", author ? author.textContent : "")
        : (author ? author.textContent : "");
      box.querySelector("span").textContent += ": " + (text.length > 120 ? text.slice(0, 119) + "…" : text);
      var area = document.getElementById("body-" + id);
      if (area) { area.focus(); }
    }
    return true;
  }

  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.msg-reply, a.cancel-reply");
    if (!link) { return; }
    var room = roomOf(link);
    if (!room || !room.hasAttribute("ws-connect")) { return; }
    var msg = link.classList.contains("msg-reply") ? link.closest(".msg") : null;
    if (setReply(room, msg)) { e.preventDefault(); }
  });

  // Enter sends, Shift+Enter starts a new line.
  document.addEventListener("keydown", function (e) {
    var area = e.target;
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || !area.form ||
        !area.form.classList.contains("composer")) { return; }
    e.preventDefault();
    area.form.requestSubmit();
  });
})();
