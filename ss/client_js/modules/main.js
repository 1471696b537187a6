/* main: builds the SS global from the modules and, in a browser, connects.
 * The server's V8 (ss/shared_code.py) runs this too, without WebSocket or location: there
 * it only provides SS.define, SS.escape and SS.events for app/shared code. */

var SS = global.SS = global.SS || {};
SS.client = SS.client || {};
SS.shared = SS.shared || {};
SS.server = SS.server || {};
SS.tmpl = SS.tmpl || {};
SS.env = SS.env || null;
SS.config = SS.config || {};

// Host functions are called through global: browsers refuse setTimeout, fetch etc. with another `this`.
var host = {
  setTimeout: function (fn, ms) { return global.setTimeout(fn, ms); },
  clearTimeout: function (t) { return global.clearTimeout(t); },
  setInterval: function (fn, ms) { return global.setInterval(fn, ms); },
  clearInterval: function (t) { return global.clearInterval(t); },
  fetch: typeof global.fetch === "function" ? function (url, init) { return global.fetch(url, init); } : undefined
};

var log = createLog(function () { return SS.config; }, global.console);
var socketEvents = new Emitter();
SS.events = new Emitter();
SS.define = createDefine(SS);
SS.escape = escapeHtml;
SS.CallFailed = CallFailed;

var tabId = Math.random().toString(36).slice(2, 10);
var connection = null;
var events = createEvents({
  emit: function (event, data, channel) { SS.events.emit(event, data, channel); },
  failed: function (lost) { socketEvents.emit("recovery_failed", lost); },
  log: log
});
// recover=1: the server holds live messages until it has replayed what this tab missed
function connectQuery() { return "tab=" + tabId + (events.recovering() ? "&recover=1" : ""); }
function reconnectConfig() { return SS.config && SS.config.reconnect; }
// client.transport as /_ss/client.js was served with it (strict mode turns the fallback off there),
// else from the init message.
function transportSettings() { return (SS.boot && SS.boot.transport) || (SS.config && SS.config.transport) || {}; }
var transport = createTransportChooser({
  websocket: createWebSocketTransport({
    WebSocket: global.WebSocket,
    location: global.location,
    setTimeout: host.setTimeout,
    random: Math.random,
    path: "/_ss/socket",
    query: connectQuery,
    reconnectConfig: reconnectConfig
  }),
  http: host.fetch ? createHttpTransport({
    fetch: host.fetch,
    setTimeout: host.setTimeout,
    random: Math.random,
    base: "/_ss/http",
    query: connectQuery,
    reconnectConfig: reconnectConfig,
    streaming: function () { return transportSettings().streaming !== false; },
    TextDecoder: global.TextDecoder
  }) : null,
  hasWebSocket: typeof global.WebSocket !== "undefined",
  settings: transportSettings,
  setTimeout: host.setTimeout,
  clearTimeout: host.clearTimeout,
  now: function () { return Date.now(); },
  storage: (function () { try { return global.localStorage || null; } catch (e) { return null; } })(),
  log: log
});
var calls = createCalls({
  link: { ready: function () { return connection.connected(); }, send: transport.send },
  tree: SS.server,
  setTimeout: host.setTimeout,
  clearTimeout: host.clearTimeout,
  log: log,
  console: global.console,
  isDevelopment: function () { return SS.env === "development"; }
});
var clientCalls = createClientCalls({
  tree: function () { return SS.client; },
  connectionId: function () { return SS.connection_id; },
  send: function (frame) { return connection.connected() && transport.send(frame); },
  log: log
});
var presence = createPresence({
  send: function (message) { return connection.send(message, true); },
  log: log
});
SS.presence = presence.channel;   // SS.presence("room1"): who is in a channel (presence.js)
connection = createConnection({
  SS: SS,
  transport: transport,
  calls: calls,
  clientCalls: clientCalls,
  events: events,
  session: createSession({ fetch: host.fetch, log: log }),
  dev: createDevHooks({ location: global.location, document: global.document, console: global.console,
                        dev: function () { return SS.dev; } }),
  heartbeat: createHeartbeat({ setInterval: host.setInterval, clearInterval: host.clearInterval,
                               send: function (frame) { return connection.connected() && transport.send(frame); } }),
  socketEvents: socketEvents,
  presence: presence,
  log: log,
  console: global.console
});

SS.call = calls.call;
// After ss.users.disconnect (which does not reconnect by itself), or to skip the wait before a retry.
SS.reconnect = function () { transport.reconnect(); };
SS.socket = {
  on: function (n, fn) { socketEvents.on(n, fn); return SS.socket; },
  off: function (n, fn) { socketEvents.off(n, fn); return SS.socket; },
  once: function (n, fn) { socketEvents.once(n, fn); return SS.socket; },
  send: function (message) { connection.send(message, false); }
};
// connecting | connected | disconnected
Object.defineProperty(SS.socket, "state", { get: connection.state, enumerable: true });
// "websocket" | "http" (null before connecting); SS.transport_reason says why HTTP was chosen
Object.defineProperty(SS, "transport", { get: function () { return transport.kind; }, configurable: true });
Object.defineProperty(SS, "transport_reason", { get: function () { return transport.reason; }, configurable: true });

if (typeof global.addEventListener === "function") {
  // persisted: the page may come back from the back/forward cache; its next poll then reconnects
  global.addEventListener("pagehide", function (event) { if (!event || !event.persisted) transport.leave(); });
}

if ((typeof global.WebSocket !== "undefined" || host.fetch) && global.location && global.document) {
  // Connect once the page's own scripts have defined SS.client.app.
  if (global.document.readyState === "loading") global.document.addEventListener("DOMContentLoaded", transport.start);
  else host.setTimeout(transport.start, 0);
}
