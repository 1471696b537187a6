/* transport: the WebSocket to the server, reopened after every close (see reconnect.js).
 *
 * The connection (connection.js) uses a transport only through this interface, so
 * another one (an HTTP streaming fallback) can take its place:
 *   start()          open the first connection
 *   stop()           close without reconnecting, back to "idle" (another transport takes over)
 *   reconnect()      closed for good (e.g. 4002) or waiting to retry: connect now; open: nothing
 *   send(frame)      write one text frame now -> true, or false when not open (nothing is queued here)
 *   state            "idle" | "connecting" | "open" | "waiting" (closed, will retry) | "closed" (for good)
 *   onopen()         the connection is open (the server speaks first: wait for its init)
 *   onmessage(text)  one frame from the server
 *   onclose(info)    {code, reason, wasOpen, reconnect, delay}; called before the retry is scheduled
 */

/* deps: WebSocket, location, setTimeout, random, path ("/_ss/socket"),
 * query() (the URL query, read on every attempt), reconnectConfig() (client.reconnect). */
function createWebSocketTransport(deps) {
  var ws = null;
  var attempt = 0;          // closes in a row without a word from the server
  var epoch = 0;            // bumped by stop(): a reconnect scheduled before it does not run
  var transport = {
    state: "idle",
    onopen: function () {},
    onmessage: function () {},
    onclose: function () {},
    start: function () { if (transport.state === "idle") open(); },
    reconnect: function () {
      if (transport.state === "closed" || transport.state === "waiting") { transport.stop(); open(); }
    },
    stop: function () {
      var socket = ws;
      ws = null;
      epoch += 1;
      attempt = 0;
      transport.state = "idle";
      if (socket) { try { socket.close(1000); } catch (e) { /* closing already */ } }
    },
    send: function (frame) {
      // readyState too: a socket that is closing drops what it is given, while a frame
      // refused here stays with its sender (a pending call is re-sent after reconnecting).
      if (transport.state !== "open" || ws.readyState !== 1) return false;
      ws.send(frame);
      return true;
    }
  };

  function url() {
    var l = deps.location;
    return (l.protocol === "https:" ? "wss://" : "ws://") + l.host + deps.path + "?" + deps.query();
  }

  function open() {
    transport.state = "connecting";
    var socket;
    try {
      socket = ws = new deps.WebSocket(url());
    } catch (e) {
      closed({ code: 1006, reason: String(e) });
      return;
    }
    socket.onopen = function () {
      if (ws !== socket) return;
      transport.state = "open";
      transport.onopen();
    };
    socket.onmessage = function (event) {
      if (ws !== socket) return;
      attempt = 0;   // the server answered: the next drop starts the backoff afresh
      transport.onmessage(event.data);
    };
    socket.onclose = function (event) {
      if (ws === socket) closed(event);
    };
  }

  function closed(event) {
    var wasOpen = transport.state === "open";
    ws = null;
    var plan = reconnectPlan(event.code, attempt, deps.reconnectConfig(), deps.random);
    if (plan.backoff) attempt += 1;
    transport.state = plan.reconnect ? "waiting" : "closed";
    var current = epoch;  // read before onclose, which may stop() this transport
    transport.onclose({ code: event.code, reason: event.reason || plan.reason || "", wasOpen: wasOpen,
                        reconnect: plan.reconnect, delay: plan.delay });
    if (plan.reconnect) deps.setTimeout(function () { if (current === epoch) open(); }, plan.delay);
  }

  return transport;
}
