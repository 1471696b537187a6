/* fallback: picks the transport, WebSocket first, HTTP (httptransport.js) when WebSockets do not get through.
 *
 * It has the transport interface itself (start, send, state, onopen/onmessage/onclose), so the
 * connection (connection.js) never knows which one carries it. It switches to HTTP when:
 *   - the browser has no WebSocket;
 *   - the WebSocket has not brought the server's first message within fallback_after_ms
 *     (refused upgrade, or a middlebox that accepts it and passes nothing);
 *   - the WebSocket closed twice in a row before the server's first message.
 * The choice is remembered for this browser (localStorage) for REMEMBER_MS; meanwhile a
 * WebSocket is tried again now and then (the probe), and when it brings the server's init,
 * the page moves back to it. Calls waiting for a reply are sent again on the new transport
 * (calls.js), so a switch loses none. `kind` is "websocket" or "http" (SS.transport); `reason` says
 * why HTTP, and that it long-polls when a proxy held its streamed responses back (httptransport.js).
 */

var FALLBACK_KEY = "ss.transport";
var REMEMBER_MS = 60 * 60 * 1000;           // how long a browser keeps using HTTP before trying WebSocket first
var PROBE_DELAYS = [30000, 120000, 600000]; // when to try the WebSocket again while on HTTP (then every 10 min)

/* deps: websocket, http (transport or null: no fallback), hasWebSocket, settings() ->
 * {fallback, fallback_after_ms}, setTimeout, clearTimeout, now(), storage (localStorage or null),
 * log(kind, ...), console */
function createTransportChooser(deps) {
  var ws = deps.websocket, http = deps.http;
  var current = null;
  var timer = null;        // fallback_after_ms after the WebSocket started
  var silentCloses = 0;    // WebSocket closes in a row before any message
  var heard = false;       // the current WebSocket brought a message
  var probes = 0;
  var probing = false;
  var chooser = {
    kind: null,
    reason: null,          // why the page uses HTTP, and long-polls (for the console and SS.transport_reason)
    onopen: function () {},
    onmessage: function () {},
    onclose: function () {},
    start: start,
    /* SS.reconnect(): connect now after a close that does not reconnect by itself (4002), or
     * skip the wait before the next attempt. Nothing when connected or connecting. */
    reconnect: function () { if (current) current.reconnect(); else start(); },
    send: function (frame) { return current ? current.send(frame) : false; },
    /* The page is going away for good: an HTTP connection tells the server now (a socket's
     * close does that by itself), so the tab leaves channels and presence at once. */
    leave: function () { if (current === http && http.state === "open") http.stop(); }
  };
  Object.defineProperty(chooser, "state", { get: function () { return current ? current.state : "idle"; },
                                            enumerable: true });

  function settings() {
    var s = deps.settings() || {};
    return { fallback: s.fallback !== false && !!http, after: typeof s.fallback_after_ms === "number" ? s.fallback_after_ms : 2500 };
  }

  ws.onopen = function () {
    heard = false;
    if (current === ws && !probing) chooser.onopen();
  };
  ws.onmessage = function (text) {
    silentCloses = 0;
    heard = true;
    if (timer !== null) { deps.clearTimeout(timer); timer = null; }
    if (probing) return probeWorked(text);
    if (current === ws) chooser.onmessage(text);
  };
  ws.onclose = function (info) {
    if (probing) return probeFailed();
    if (current !== ws) return;
    chooser.onclose(info);
    if (!settings().fallback || !info.reconnect) return;
    silentCloses = heard ? 0 : silentCloses + 1;
    heard = false;
    if (silentCloses >= 2) useHttp("the WebSocket closed twice before the server's first message (code " + info.code + ")");
  };
  if (http) {
    http.onopen = function () { if (current === http) chooser.onopen(); };
    http.onmessage = function (text) { if (current === http) chooser.onmessage(text); };
    http.onlongpoll = function (reason) {
      chooser.reason = (chooser.reason ? chooser.reason + "; " : "") + "long-polling: " + reason;
      deps.log("info", "ss: HTTP long-polling instead of streaming: " + reason);
    };
    http.onclose = function (info) {
      if (current !== http) return;
      chooser.onclose(info);
      if (info.status === 404 || info.status === 405) useWebSocket("the server has no HTTP transport (client.transport.fallback or strict mode)");
    };
  }

  function start() {
    if (current) return;
    var s = settings();
    if (s.fallback && !deps.hasWebSocket) return useHttp("this browser has no WebSocket");
    if (s.fallback && remembered()) return useHttp("WebSocket did not work in this browser lately");
    current = ws;
    chooser.kind = "websocket";
    if (s.fallback) {
      timer = deps.setTimeout(function () {
        timer = null;
        useHttp("the WebSocket brought nothing within " + s.after + " ms");
      }, s.after);
    }
    ws.start();
  }

  function useHttp(reason) {
    if (timer !== null) { deps.clearTimeout(timer); timer = null; }
    var wasOpen = current === ws && ws.state === "open";
    if (current === ws) ws.stop();
    current = http;
    chooser.kind = "http";
    chooser.reason = reason;
    deps.log("info", "ss: using HTTP instead of WebSocket: " + reason);
    remember(true);
    if (wasOpen) chooser.onclose({ code: 1006, reason: "switching to HTTP", wasOpen: true, reconnect: true, delay: 0 });
    http.start();
    scheduleProbe();
  }

  /* Back to the WebSocket (the probe brought its init, or the server has no HTTP transport). */
  function useWebSocket(reason) {
    var wasOpen = current === http && http.state === "open";
    if (current === http) http.stop();
    current = ws;
    chooser.kind = "websocket";
    chooser.reason = null;
    deps.log("info", "ss: using WebSocket again: " + reason);
    remember(false);
    if (wasOpen) chooser.onclose({ code: 1000, reason: "moving to WebSocket", wasOpen: true, reconnect: true, delay: 0 });
  }

  function scheduleProbe() {
    if (!deps.hasWebSocket) return;
    var delay = PROBE_DELAYS[Math.min(probes, PROBE_DELAYS.length - 1)];
    deps.setTimeout(function () {
      if (current !== http) return;
      probes += 1;
      probing = true;
      ws.start();
      timer = deps.setTimeout(function () { timer = null; if (probing) probeFailed(); }, settings().after);
    }, delay);
  }

  function probeWorked(text) {
    probing = false;
    probes = 0;
    useWebSocket("a WebSocket got through");
    chooser.onopen();
    chooser.onmessage(text);
  }

  function probeFailed() {
    probing = false;
    if (timer !== null) { deps.clearTimeout(timer); timer = null; }
    ws.stop();
    scheduleProbe();
  }

  function remembered() {
    try {
      var until = deps.storage && Number(deps.storage.getItem(FALLBACK_KEY));
      return !!until && until > deps.now();
    } catch (e) { return false; }
  }

  function remember(useHttpNow) {
    try {
      if (!deps.storage) return;
      if (useHttpNow) deps.storage.setItem(FALLBACK_KEY, String(deps.now() + REMEMBER_MS));
      else deps.storage.removeItem(FALLBACK_KEY);
    } catch (e) { /* storage refused (private mode): the choice is not remembered */ }
  }

  return chooser;
}
