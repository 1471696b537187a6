/* connection: one per page. Hands each message from the transport to calls, client calls,
 * events, session or the dev hooks; keeps the page's view of the connection (SS.socket: state, connect /
 * disconnect / reconnect, send) and runs SS.client.app.init once, on the first init. */

var CLOSE_DISCONNECTED = 4002;

/* deps: SS, transport, calls, clientCalls, events, session, dev, heartbeat, socketEvents (an Emitter), log, console. */
function createConnection(deps) {
  var SS = deps.SS, transport = deps.transport, calls = deps.calls, events = deps.events;
  var initialised = false;   // this transport connection got its init
  var everConnected = false;
  var queue = [];            // SS.socket.send frames waiting for a connection

  // deps.presence (presence.js) is optional: the unit tests of this module leave it out.
  var handlers = {
    init: init,
    reply: calls.receive,
    error: calls.receive,
    client_call: function (msg) { deps.clientCalls.receive(msg); },
    event: events.deliver,
    session: deps.session.rotated,
    recovery_failed: events.recoveryFailed,
    presence_state: function (msg) { if (deps.presence) deps.presence.state(msg); },
    presence_diff: function (msg) { if (deps.presence) deps.presence.diff(msg); },
    api: function (msg) { calls.mount(msg.api); },
    reload: function () { deps.dev.reload(); },
    css: function (msg) { deps.dev.css(msg.href); },
    asset_error: function (msg) { deps.dev.assetError(msg.error); },
    asset_ok: function () { deps.dev.assetOk(); }
  };

  function connected() {
    return initialised && transport.state === "open";
  }

  function state() {
    if (connected()) return "connected";
    return transport.state === "waiting" || transport.state === "closed" ? "disconnected" : "connecting";
  }

  function receive(text) {
    var msg;
    try { msg = JSON.parse(text); } catch (e) { deps.console.error("ss: unreadable message from server", text); return; }
    var handler = msg && Object.prototype.hasOwnProperty.call(handlers, msg.type) ? handlers[msg.type] : null;
    if (handler) handler(msg);
    else deps.log("debug", "ss: ignoring message", msg);
  }

  function init(msg) {
    if (deps.dev.staleAssets(msg)) return deps.dev.reload();
    SS.env = msg.env;
    SS.config = msg.config || {};
    // Names this connection (logs, support); not a secret. The session id stays in its HttpOnly cookie.
    SS.connection_id = msg.connection_id;
    calls.mount(msg.api || {});
    initialised = true;
    // Order matters: the server holds live messages until the recover message, and calls
    // made while offline were made before anything queued after them.
    var recover = events.recoverMessage();
    if (recover) transport.send(JSON.stringify(recover));
    calls.resend();
    var waiting = queue;
    queue = [];
    waiting.forEach(function (frame) { transport.send(frame); });
    if (deps.presence) deps.presence.connected();   // presence diffs are not kept: ask for the states again
    deps.heartbeat.start(SS.config.heartbeat_interval);
    deps.socketEvents.emit("connect");
    if (everConnected) {
      deps.socketEvents.emit("reconnect");
      return;
    }
    everConnected = true;
    if (SS.client.app && typeof SS.client.app.init === "function") {
      try { SS.client.app.init(); } catch (e) { deps.console.error("ss: SS.client.app.init() failed", e); }
    }
  }

  function closed(info) {
    var wasConnected = initialised;
    initialised = false;
    deps.heartbeat.stop();
    calls.dropVolatile();
    if (info.code === CLOSE_DISCONNECTED) {
      // ss.users.disconnect: the app wants this user off; no reconnect until SS.reconnect()
      deps.log("info", "ss: disconnected by the server: " + info.reason + " (SS.reconnect() connects again)");
      SS.events.emit("disconnect", info.reason);
    }
    if (!wasConnected) return;
    deps.log("info", "ss: connection lost" + (info.code === 1006 ? (info.reason ? " (" + info.reason + ")" : "") : " (" + info.code + (info.reason ? " " + info.reason : "") + ")") +
             (info.reconnect ? ", reconnecting" : ""));
    deps.socketEvents.emit("disconnect");
  }

  /* A message other than a call: sent now, or (unless volatile) once connected. */
  function send(message, volatile) {
    var frame = JSON.stringify(message);
    if (connected() && transport.send(frame)) return true;
    if (volatile) return false;
    queue.push(frame);
    return true;
  }

  transport.onmessage = receive;
  transport.onclose = closed;

  return { connected: connected, state: state, send: send, receive: receive };
}
