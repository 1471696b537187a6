/* httptransport: the same interface as transport.js, carried by plain HTTP (ss/realtime/http_transport.py).
 *
 *   POST {base}/open?<query>  -> {connection, secret}     (header X-SS-Transport: http)
 *   GET  {base}/poll?c=ID[&stream=1]  server messages, one per line (stream=1: read as they come)
 *   POST {base}/send?c=ID     what send() queued this turn, one message per line -> 204 (the replies
 *                             come by the poll). A 200 answer with messages (the server's ?replies=1,
 *                             not asked for: see post()) is still taken in by its X-SS-Seq number.
 * Every request after open carries the connection's secret in X-SS-Secret. An error answer
 * with {"close": {code, reason}} ends the connection with that close code, so reconnect.js
 * decides what happens next exactly as for a WebSocket; any other failure counts as 1006.
 *
 * One order: the server numbers a connection's messages (the init is 0) whichever response
 * carries them. Polls follow one another, so their messages come in order; a POST answer
 * whose first number is ahead of what came so far waits until the poll brings the ones
 * before. When the poll that was open as that answer came ends without them, they were lost
 * (a response that never arrived): reconnect, as after a dropped socket.
 *
 * A buffering proxy: a streamed poll starts with an empty line at once. When it has not
 * arrived within STREAM_CHECK_MS, something holds the response back: the page long-polls
 * from then on (`longPolling` says why). A long-poll opened at once takes over from the
 * stream (which the server then ends, and the proxy passes on); its messages are taken in
 * after the stream's.
 */

var HTTP_BATCH_CHARS = 256 * 1024;  // a POST carries at most this much (one bigger message goes alone)
var STREAM_CHECK_MS = 2000;         // a streamed poll's first (empty) line must come within this

/* deps: fetch, setTimeout, random, base ("/_ss/http"), query(), reconnectConfig(),
 * streaming() (stream the polls: true unless client.transport.streaming is false), TextDecoder. */
function createHttpTransport(deps) {
  var conn = null;          // {id, secret} of the open connection
  var generation = 0;       // bumped on every close/stop: late answers of an older connection are ignored
  var attempt = 0;
  var outbox = [];
  var posting = false;
  var delivered = 0;        // messages of this connection taken in (the next one's number)
  var waiting = [];         // POST answers ahead of the poll: {first, lines, poll}
  var polls = 0;            // polls started on this connection
  var transport = {
    state: "idle",
    longPolling: null,      // why streamed polls were given up (a proxy that buffers them), or null
    onopen: function () {},
    onmessage: function () {},
    onclose: function () {},
    onlongpoll: function () {},  // (reason): streamed polls were given up
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
        delivered = 0;
        waiting = [];
        polls = 0;
        transport.state = "open";
        transport.onopen();
        poll(gen, null);
      });
    }).catch(function (e) { lost(gen, e); });
  }

  /* One poll; `before` (a promise, or null) is the stream it takes over from: its messages go first. */
  function poll(gen, before) {
    var c = conn;
    var number = ++polls;
    var stream = !transport.longPolling && deps.streaming() && typeof deps.TextDecoder === "function";
    var state = { heard: !stream, replaced: false, done: null };
    var finished = new Promise(function (resolve) { state.done = resolve; });
    if (stream) deps.setTimeout(function () { if (!state.heard && gen === generation) buffered(gen, state, finished); },
                                STREAM_CHECK_MS);
    request("/poll?c=" + encodeURIComponent(c.id) + (stream ? "&stream=1" : ""), "GET", c).then(function (res) {
      if (gen !== generation) return;
      if (res.status !== 200) return failed(res, gen);
      if (stream && res.body && typeof res.body.getReader === "function") {
        return after(before, function () { return read(res.body.getReader(), gen, number, state); });
      }
      return res.text().then(function (text) {
        return after(before, function () {
          if (gen !== generation) return;
          fromPoll(text);
          ended(gen, number, state);
        });
      });
    }).catch(function (e) { lost(gen, e); }).then(function () { state.done(); });
  }

  function after(before, then) { return before ? before.then(then) : then(); }

  /* The streamed poll brought nothing, not even its first line: a proxy holds it back. */
  function buffered(gen, state, finished) {
    transport.longPolling = "a proxy held the streamed response back (nothing within " + STREAM_CHECK_MS + " ms)";
    transport.onlongpoll(transport.longPolling);
    state.replaced = true;
    poll(gen, finished);  // takes over: the server ends the stream, and the proxy passes on what it held
  }

  /* A streamed poll: hand each complete line over as it arrives, then poll again. */
  function read(reader, gen, number, state) {
    var decoder = new deps.TextDecoder();
    var buffer = "";
    function next() {
      return reader.read().then(function (chunk) {
        if (gen !== generation) { reader.cancel(); return; }
        if (chunk.done) {
          fromPoll(buffer + decoder.decode());
          ended(gen, number, state);
          return;
        }
        state.heard = true;
        buffer += decoder.decode(chunk.value, { stream: true });
        var end = buffer.lastIndexOf("\n");
        if (end >= 0) {
          var complete = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          fromPoll(complete);
        }
        if (gen === generation) return next();
      });
    }
    return next();
  }

  /* A poll ended: POST answers waiting since before it started cannot get what they lack any more. */
  function ended(gen, number, state) {
    if (gen !== generation) return;
    if (waiting.length && waiting[0].poll <= number && waiting[0].first > delivered) {
      return closed({ code: 1006, reason: "messages " + delivered + " to " + (waiting[0].first - 1) + " were lost" });
    }
    if (!state.replaced) poll(gen, null);
  }

  function fromPoll(text) {
    var lines = text.split("\n");
    var gen = generation;
    for (var i = 0; i < lines.length && gen === generation; i++) {
      if (!lines[i]) continue;
      take(lines[i]);
      if (waiting.length && waiting[0].first <= delivered) release();
    }
  }

  function take(line) {
    attempt = 0;  // the server answered: the next drop starts the backoff afresh
    delivered += 1;
    transport.onmessage(line);
  }

  /* The POST answers whose turn has come, in order. */
  function release() {
    var gen = generation;
    while (waiting.length && waiting[0].first <= delivered && gen === generation) {
      var answer = waiting.shift();
      for (var i = delivered - answer.first; i < answer.lines.length && gen === generation; i++) take(answer.lines[i]);
    }
  }

  function fromPost(first, text) {
    var lines = text.split("\n").filter(function (line) { return !!line; });
    if (!(first >= 0)) first = delivered;  // no number (an intermediary dropped the header): take it now
    waiting.push({ first: first, lines: lines, poll: polls });
    release();
  }

  function post() {
    var c = conn, gen = generation;
    if (!c || transport.state !== "open" || !outbox.length) { posting = false; return; }
    var size = 0, n = 0;
    while (n < outbox.length && (n === 0 || size + outbox[n].length <= HTTP_BATCH_CHARS)) size += outbox[n++].length + 1;
    var batch = outbox.splice(0, n);
    // Without replies=1: a POST answer that took a call's reply could arrive after the poll brought a
    // later message, and the poll's messages carry no numbers to put them back in order (the reply
    // would be counted as seen and dropped). So every message comes by the poll, in the server's order.
    request("/send?c=" + encodeURIComponent(c.id), "POST", c, batch.join("\n")).then(function (res) {
      if (gen !== generation) return;
      if (res.status === 204) return post();
      if (res.status !== 200) return failed(res, gen);
      return res.text().then(function (text) {
        if (gen !== generation) return;
        fromPost(parseInt(res.headers && res.headers.get ? res.headers.get("X-SS-Seq") : "", 10), text);
        if (gen === generation) post();
      });
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
    waiting = [];
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
