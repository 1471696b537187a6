/* httptransport: the same interface as transport.js, carried by plain HTTP (ss/realtime/http_transport.py).
 *
 *   POST {base}/open?<query>  -> {connection, secret}     (header X-SS-Transport: http)
 *   GET  {base}/poll?c=ID[&stream=1]  server messages, one per line (stream=1: read as they come)
 *   POST {base}/send?c=ID     what send() queued this turn, one message per line
 * Every request after open carries the connection's secret in X-SS-Secret. An error answer
 * with {"close": {code, reason}} ends the connection with that close code, so reconnect.js
 * decides what happens next exactly as for a WebSocket; any other failure counts as 1006.
 */

var HTTP_BATCH_CHARS = 256 * 1024;  // a POST carries at most this much (one bigger message goes alone)

/* deps: fetch, setTimeout, random, base ("/_ss/http"), query(), reconnectConfig(),
 * streaming() (stream the polls: true unless client.transport.streaming is false), TextDecoder. */
function createHttpTransport(deps) {
  var conn = null;          // {id, secret} of the open connection
  var generation = 0;       // bumped on every close/stop: late answers of an older connection are ignored
  var attempt = 0;
  var outbox = [];
  var posting = false;
  var transport = {
    state: "idle",
    onopen: function () {},
    onmessage: function () {},
    onclose: function () {},
    start: function () { if (transport.state === "idle") open(); },
    /* Closed for good (e.g. 4002) or waiting to retry: connect now. */
    reconnect: function () {
      if (transport.state === "closed" || transport.state === "waiting") { transport.stop(); open(); }
    },
    /* Leave for good (the page moves to a WebSocket): tells the server, back to "idle". */
    stop: function () {
      var c = conn;
      generation += 1;
      conn = null;
      outbox = [];
      posting = false;
      transport.state = "idle";
      if (c) request("/close?c=" + encodeURIComponent(c.id), "POST", c, "", true).catch(function () {});
    },
    send: function (frame) {
      if (transport.state !== "open") return false;
      outbox.push(frame);
      if (!posting) { posting = true; deps.setTimeout(post, 0); }  // whatever else this turn sends joins it
      return true;
    }
  };

  function request(path, method, c, body, keepalive) {
    var headers = {};
    if (c) headers["X-SS-Secret"] = c.secret;
    else headers["X-SS-Transport"] = "http";
    if (body !== undefined) headers["Content-Type"] = "text/plain;charset=UTF-8";
    return deps.fetch(deps.base + path, { method: method, headers: headers, body: body, credentials: "same-origin",
                                          cache: "no-store", keepalive: !!keepalive });
  }

  function open() {
    transport.state = "connecting";
    var gen = ++generation;
    request("/open?" + deps.query(), "POST", null, "").then(function (res) {
      if (gen !== generation) return;
      if (res.status !== 200) return failed(res, gen);
      return res.json().then(function (answer) {
        if (gen !== generation) return;
        conn = { id: answer.connection, secret: answer.secret };
        transport.state = "open";
        transport.onopen();
        poll(gen);
      });
    }).catch(function (e) { lost(gen, e); });
  }

  function poll(gen) {
    var c = conn;
    var stream = deps.streaming() && typeof deps.TextDecoder === "function";
    request("/poll?c=" + encodeURIComponent(c.id) + (stream ? "&stream=1" : ""), "GET", c).then(function (res) {
      if (gen !== generation) return;
      if (res.status !== 200) return failed(res, gen);
      if (stream && res.body && typeof res.body.getReader === "function") return read(res.body.getReader(), gen);
      return res.text().then(function (text) {
        if (gen !== generation) return;
        deliver(text);
        if (gen === generation) poll(gen);
      });
    }).catch(function (e) { lost(gen, e); });
  }

  /* A streamed poll: hand each complete line over as it arrives, then poll again. */
  function read(reader, gen) {
    var decoder = new deps.TextDecoder();
    var buffer = "";
    function next() {
      return reader.read().then(function (chunk) {
        if (gen !== generation) { reader.cancel(); return; }
        if (chunk.done) {
          deliver(buffer + decoder.decode());
          if (gen === generation) poll(gen);
          return;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        var end = buffer.lastIndexOf("\n");
        if (end >= 0) {
          var complete = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          deliver(complete);
        }
        if (gen === generation) return next();
      });
    }
    return next();
  }

  function deliver(text) {
    var lines = text.split("\n");
    var gen = generation;
    for (var i = 0; i < lines.length && gen === generation; i++) {
      if (!lines[i]) continue;
      attempt = 0;  // the server answered: the next drop starts the backoff afresh
      transport.onmessage(lines[i]);
    }
  }

  function post() {
    var c = conn, gen = generation;
    if (!c || transport.state !== "open" || !outbox.length) { posting = false; return; }
    var size = 0, n = 0;
    while (n < outbox.length && (n === 0 || size + outbox[n].length <= HTTP_BATCH_CHARS)) size += outbox[n++].length + 1;
    var batch = outbox.splice(0, n);
    request("/send?c=" + encodeURIComponent(c.id), "POST", c, batch.join("\n")).then(function (res) {
      if (gen !== generation) return;
      if (res.status !== 204) return failed(res, gen);
      post();
    }).catch(function (e) { lost(gen, e); });
  }

  /* An error answer: its close code when the server closed the connection, else 1006. */
  function failed(res, gen) {
    return res.json().then(function (body) { return body; }, function () { return null; }).then(function (body) {
      if (gen !== generation) return;
      var close = body && body.close;
      var message = body && body.error ? body.error.code + ": " + body.error.message : "HTTP " + res.status;
      closed(close ? { code: close.code, reason: close.reason } : { code: 1006, reason: message, status: res.status });
    });
  }

  function lost(gen, error) {
    if (gen === generation) closed({ code: 1006, reason: error && error.message ? error.message : "network error" });
  }

  function closed(event) {
    var wasOpen = transport.state === "open";
    generation += 1;
    conn = null;
    outbox = [];
    posting = false;
    var plan = reconnectPlan(event.code, attempt, deps.reconnectConfig(), deps.random);
    if (plan.backoff) attempt += 1;
    transport.state = plan.reconnect ? "waiting" : "closed";
    transport.onclose({ code: event.code, reason: event.reason || plan.reason || "", wasOpen: wasOpen,
                        reconnect: plan.reconnect, delay: plan.delay, status: event.status });
    var gen = generation;
    if (plan.reconnect) deps.setTimeout(function () { if (gen === generation) open(); }, plan.delay);
  }

  return transport;
}
