/* ss browser client: one WebSocket, SS.server calls, events, client/shared API trees.
 * Plain modern JavaScript; served as /_ss/client.js before any app code.
 * The wire protocol is described in docs/protocol.md.
 */
(function (global) {
  "use strict";

  var SS = global.SS = global.SS || {};
  SS.client = SS.client || {};
  SS.shared = SS.shared || {};
  SS.server = SS.server || {};
  SS.tmpl = SS.tmpl || {};
  SS.env = SS.env || null;
  SS.config = SS.config || {};

  var OPTION_KEYS = { silent: 1, volatile: 1, timeout: 1 };
  var LEVELS = { error: 1, info: 2, calls: 3, debug: 4 };

  function logLevel() {
    var c = SS.config && SS.config.log;
    return c && typeof c.level === "number" ? c.level : 2;
  }
  function log(kind) {
    if (logLevel() < (LEVELS[kind] || 2)) return;
    var args = Array.prototype.slice.call(arguments, 1);
    (kind === "error" ? console.error : console.log).apply(console, args);
  }

  /* ---- tiny event emitter, used by SS.events and SS.socket ---- */
  function Emitter() { this._handlers = {}; }
  Emitter.prototype.on = function (name, fn) {
    (this._handlers[name] = this._handlers[name] || []).push(fn);
    return this;
  };
  Emitter.prototype.off = function (name, fn) {
    var list = this._handlers[name] || [];
    this._handlers[name] = fn ? list.filter(function (f) { return f !== fn; }) : [];
    return this;
  };
  Emitter.prototype.once = function (name, fn) {
    var self = this;
    function wrapper() { self.off(name, wrapper); fn.apply(this, arguments); }
    return this.on(name, wrapper);
  };
  Emitter.prototype.emit = function (name) {
    var args = Array.prototype.slice.call(arguments, 1);
    (this._handlers[name] || []).slice().forEach(function (fn) {
      try { fn.apply(null, args); } catch (e) { console.error("ss: a handler for '" + name + "' failed", e); }
    });
  };

  SS.events = new Emitter();
  var socketEvents = new Emitter();

  /* ---- SS.define: mount app/client and app/shared modules ---- */
  SS.define = function (tree, path, factory) {
    var root = SS[tree];
    var parts = path.split("/");
    var name = parts.pop();
    parts.forEach(function (part) { root = root[part] = root[part] || {}; });
    var exports = root[name] || {};
    var module = { exports: exports };
    factory(exports, module);
    root[name] = module.exports;
  };

  /* ---- the connection ---- */
  var ws = null;
  var nextId = 1;
  var pending = {};          // id -> {resolve, reject, method, frame, volatile, timer}: calls with no reply yet
  var queue = [];            // other frames waiting for a connection
  var offsets = {};          // stream -> last offset seen (pub/sub recovery)
  var everConnected = false;
  var attempts = 0;
  var heartbeatTimer = null;
  var tabId = Math.random().toString(36).slice(2, 10);

  SS.socket = {
    state: "connecting",    // connecting | connected | disconnected
    on: function (n, fn) { socketEvents.on(n, fn); return SS.socket; },
    off: function (n, fn) { socketEvents.off(n, fn); return SS.socket; },
    once: function (n, fn) { socketEvents.once(n, fn); return SS.socket; },
    send: function (message) { send(message, false); }
  };

  function socketUrl() {
    var l = global.location;
    // recover=1: the server holds live messages until it has replayed what this tab missed
    var recover = Object.keys(offsets).length ? "&recover=1" : "";
    return (l.protocol === "https:" ? "wss://" : "ws://") + l.host + "/_ss/socket?tab=" + tabId + recover;
  }

  /* Non-call messages: sent now, or (unless volatile) once connected. */
  function send(message, volatile) {
    var frame = JSON.stringify(message);
    if (isConnected()) {
      ws.send(frame);
      return true;
    }
    if (volatile) return false;
    queue.push(frame);
    return true;
  }

  function reconnectDelay() {
    var r = (SS.config && SS.config.reconnect) || {};
    var min = (r.min_delay || 0.25) * 1000, max = (r.max_delay || 10) * 1000;
    var delay = Math.min(max, min * Math.pow(2, attempts));
    return delay / 2 + Math.random() * delay / 2;   // "equal jitter": never all tabs at once
  }

  function connect() {
    SS.socket.state = "connecting";
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws.onmessage = function (event) { receive(event.data); };
    ws.onclose = function () {
      var wasConnected = SS.socket.state === "connected";
      SS.socket.state = "disconnected";
      clearInterval(heartbeatTimer);
      dropVolatileCalls();
      if (wasConnected) {
        log("info", "ss: connection lost, reconnecting");
        socketEvents.emit("disconnect");
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    var delay = reconnectDelay();
    attempts += 1;
    setTimeout(connect, delay);
  }

  function receive(text) {
    var msg;
    try { msg = JSON.parse(text); } catch (e) { console.error("ss: unreadable message from server", text); return; }
    switch (msg.type) {
      case "reply": return settle(msg.id, null, msg.result);
      case "error": return msg.id == null ? reportOrphanError(msg.error) : settle(msg.id, msg.error);
      case "event": return deliverEvent(msg);
      case "init": return initialised(msg);
      case "session": return sessionRotated(msg);
      case "recovery_failed": return recoveryFailed(msg);
      case "api": return buildServerTree(msg.api);
      case "reload": return global.location.reload();
      case "css": return swapStylesheet(msg.href);
      case "asset_error": return SS.dev && SS.dev.showError ? SS.dev.showError(msg.error) : console.error(msg.error);
      case "asset_ok": return SS.dev && SS.dev.hideError && SS.dev.hideError();
      default: log("debug", "ss: ignoring message", msg);
    }
  }

  function initialised(msg) {
    // Development: the page is older than the server's assets (a reload message was missed
    // while this tab was reloading or the server restarting), so load the current one.
    var meta = global.document && document.querySelector('meta[name="ss-assets"]');
    if (msg.assets && meta && meta.content !== msg.assets) return global.location.reload();
    SS.env = msg.env;
    SS.config = msg.config || {};
    SS.session_id = msg.session_id;
    buildServerTree(msg.api || {});
    SS.socket.state = "connected";
    attempts = 0;
    var streams = Object.keys(offsets);
    if (streams.length) ws.send(JSON.stringify({ type: "recover", streams: offsets }));
    resendCalls();
    var waiting = queue;
    queue = [];
    waiting.forEach(function (frame) { ws.send(frame); });
    startHeartbeat();
    if (!everConnected) {
      everConnected = true;
      socketEvents.emit("connect");
      if (SS.client.app && typeof SS.client.app.init === "function") {
        try { SS.client.app.init(); } catch (e) { console.error("ss: SS.client.app.init() failed", e); }
      }
    } else {
      socketEvents.emit("connect");
      socketEvents.emit("reconnect");
    }
  }

  function startHeartbeat() {
    clearInterval(heartbeatTimer);
    var seconds = SS.config.heartbeat_interval;
    if (seconds > 0) {
      heartbeatTimer = setInterval(function () { send({ type: "heartbeat" }, true); }, seconds * 1000);
    }
  }

  function deliverEvent(msg) {
    if (msg.stream != null) {
      if (offsets[msg.stream] != null && msg.offset <= offsets[msg.stream]) return;  // already seen
      offsets[msg.stream] = msg.offset;
    }
    log("debug", "ss: event", msg.event, msg.data);
    SS.events.emit(msg.event, msg.data, msg.channel);
  }

  /* Signing in gave the session a new id; the HttpOnly cookie can only be set by the server. */
  function sessionRotated(msg) {
    SS.session_id = msg.session_id;
    if (typeof fetch !== "function") return;
    fetch("/_ss/session", { method: "POST", credentials: "same-origin", body: msg.token,
                            headers: { "Content-Type": "text/plain" } })
      .then(function (r) { if (!r.ok) log("error", "ss: could not update the session cookie (" + r.status + ")"); })
      .catch(function (e) { log("error", "ss: could not update the session cookie", e); });
  }

  /* Messages of these streams were lost while offline: the app should reload that state.
   * "not_subscribed" streams (a channel left, a user signed out meanwhile) are no loss to report. */
  function recoveryFailed(msg) {
    var streams = msg.streams || {}, lost = {}, any = false;
    Object.keys(streams).forEach(function (stream) {
      delete offsets[stream];
      if (streams[stream] !== "not_subscribed") { lost[stream] = streams[stream]; any = true; }
    });
    if (!any) return;
    log("info", "ss: missed messages could not be recovered", lost);
    socketEvents.emit("recovery_failed", lost);
  }

  function reportOrphanError(error) {
    console.error("ss: the server refused a message: " + error.code + ": " + error.message);
  }

  function swapStylesheet(href) {
    var old = document.querySelector("link[data-ss-css]");
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.setAttribute("data-ss-css", "");
    link.href = href;
    link.onload = function () { if (old && old.parentNode) old.parentNode.removeChild(old); };
    (old && old.parentNode ? old.parentNode : document.head).insertBefore(link, old ? old.nextSibling : null);
  }

  /* ---- SS.server.* ---- */
  function CallFailed(error, method) {
    this.name = "CallFailed";
    this.code = error.code;
    this.message = method + ": " + error.message;
    this.traceback = error.traceback;
  }
  CallFailed.prototype = Object.create(Error.prototype);
  SS.CallFailed = CallFailed;

  function settle(id, error, result) {
    var call = pending[id];
    if (!call) return;
    delete pending[id];
    clearTimeout(call.timer);
    if (error) {
      var failure = new CallFailed(error, call.method);
      if (!call.silent) log("error", "ss: " + failure.message + (error.traceback ? "\n" + error.traceback : ""));
      call.reject(failure);
    } else {
      if (!call.silent) log("calls", "\u2190 " + call.method, result);
      call.resolve(result);
    }
  }

  function isOptions(value) {
    if (!value || typeof value !== "object" || Array.isArray(value)) return false;
    var keys = Object.keys(value);
    return keys.length > 0 && keys.every(function (k) { return OPTION_KEYS[k]; });
  }

  /** Call a server action: call("app.square", [25], cb?, options?) -> Promise (or undefined with cb).
   *  Calls made while offline wait for the connection; calls cut off by a disconnect are re-sent with
   *  the same id after reconnecting (the server runs each at most once). {volatile: true} calls are
   *  never kept: they fail at once when offline or cut off. {timeout: ms} fails a call left unanswered. */
  function call(method, args, cb, options) {
    options = options || {};
    var id = nextId++;
    var message = { type: "call", id: id, method: method, args: args };
    if (options.silent) message.silent = true;
    var entry = { method: method, silent: options.silent, volatile: options.volatile,
                  frame: JSON.stringify(message) };
    var promise = new Promise(function (resolve, reject) {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    pending[id] = entry;
    if (options.timeout) {
      entry.timer = setTimeout(function () {
        settle(id, { code: "timeout", message: "no reply within " + options.timeout + " ms" });
      }, options.timeout);
    }
    if (!options.silent) log("calls", "\u2192 " + method, args);
    if (isConnected()) {
      ws.send(entry.frame);
    } else if (options.volatile) {
      settle(id, { code: "offline", message: "not connected; volatile call dropped" });
    }
    if (typeof cb === "function") {
      promise.then(cb, function () { /* already logged to the console */ });
      return undefined;
    }
    if (SS.env === "development" && !options.silent) {
      promise.then(function (r) { console.log(method + "(" + args.map(JSON.stringify).join(", ") + ") \u2192", r); },
                   function () {});
    }
    return promise;
  }

  function isConnected() {
    return ws && ws.readyState === 1 && SS.socket.state === "connected";
  }

  function resendCalls() {
    Object.keys(pending).map(Number).sort(function (a, b) { return a - b; }).forEach(function (id) {
      ws.send(pending[id].frame);
    });
  }

  function dropVolatileCalls() {
    Object.keys(pending).forEach(function (id) {
      if (pending[id].volatile) settle(id, { code: "disconnected", message: "connection lost; volatile call dropped" });
    });
  }
  SS.call = call;

  function makeAction(method) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      var options = null, cb = null;
      if (args.length && isOptions(args[args.length - 1])) options = args.pop();
      if (args.length && typeof args[args.length - 1] === "function") cb = args.pop();
      return call(method, args, cb, options);
    };
  }

  function buildServerTree(api) {
    function walk(node, target, prefix) {
      Object.keys(node).forEach(function (name) {
        var path = prefix ? prefix + "." + name : name;
        if (node[name] === 1) target[name] = makeAction(path);
        else walk(node[name], target[name] = (typeof target[name] === "object" ? target[name] : {}), path);
      });
    }
    Object.keys(SS.server).forEach(function (k) { delete SS.server[k]; });
    walk(api, SS.server, "");
  }

  /* ---- escaping helper for client and shared code (see ss.escape on the server) ---- */
  SS.escape = function (value) {
    return String(value == null ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  };

  if (typeof WebSocket !== "undefined" && global.location) {
    // Connect once the page's own scripts have defined SS.client.app.
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", connect);
    else setTimeout(connect, 0);
  }
})(typeof window !== "undefined" ? window : this);
