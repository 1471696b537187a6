/* httptransport: the same interface as transport.js, carried by plain HTTP (ss/realtime/http_transport.py).
 *
 *   POST {base}/open?<query>  -> {connection, secret}     (header X-SS-Transport: http)
 *   GET  {base}/poll?c=ID[&stream=1]  server messages, one per line, each batch after a line #N (the
 *                             number of its first message); stream=1: read as they come
 *   POST {base}/send?c=ID&replies=1   what send() queued this turn, one message per line -> 200 with
 *                             the messages ready by then (the calls' replies), numbered from X-SS-Seq,
 *                             or 204 when none is (the poll brings them)
 * Every request after open carries the connection's secret in X-SS-Secret. An error answer
 * with {"close": {code, reason}} ends the connection with that close code, so reconnect.js
 * decides what happens next exactly as for a WebSocket; any other failure counts as 1006.
 *
 * One order: the server numbers a connection's messages (the init is 0) whichever response
 * carries them, and every request that may bring some (a poll, a POST) is a *carrier*. A
 * message is taken in when its number is the next; one that comes early waits for those
 * before it. A carrier brings its messages in increasing order, and the ones before an early
 * message were handed out before it, to a carrier already sent. So when no carrier sent before
 * that early message arrived is still on its way without having brought a later number, the
 * messages it waits for were lost (with a response that never arrived): reconnect, as after
 * a dropped socket.
 *
 * A buffering proxy: a streamed poll starts with an empty line at once. When it has not
 * arrived within STREAM_CHECK_MS, something holds the response back: the page long-polls
 * from then on (`longPolling` says why). A long-poll opened at once takes over from the
 * stream (which the server then ends, and the proxy passes on); the numbers put the two
 * responses' messages back in order.
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
  var next = 0;             // the number of the next message to take in (the init is 0)
  var early = {};           // number -> {line, sent}: messages that came before ones ahead of them
  var earlyCount = 0;
  var carriers = {};        // requests on their way that may bring messages: id -> {id, highest}
  var sent = 0;             // carriers sent so far on this connection (their ids, in order)
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
        reset();
        transport.state = "open";
        transport.onopen();
        poll(gen);
      });
    }).catch(function (e) { lost(gen, e); });
  }

  /* One poll: streamed (its batches are taken in as they come) or a long-poll. */
  function poll(gen) {
    var c = conn;
    var carrier = newCarrier();
    var stream = !transport.longPolling && deps.streaming() && typeof deps.TextDecoder === "function";
    var state = { heard: !stream, replaced: false, number: null };
    if (stream) deps.setTimeout(function () { if (!state.heard && gen === generation) buffered(gen, state); },
                                STREAM_CHECK_MS);
    request("/poll?c=" + encodeURIComponent(c.id) + (stream ? "&stream=1" : ""), "GET", c).then(function (res) {
      if (gen !== generation) return;
      if (res.status !== 200) return failed(res, gen);
      if (stream && res.body && typeof res.body.getReader === "function") {
        return read(res.body.getReader(), gen, carrier, state);
      }
      return res.text().then(function (text) {
        if (gen !== generation) return;
        fromPoll(text, carrier, state);
        ended(gen, carrier, state);
      });
    }).catch(function (e) { lost(gen, e); });
  }

  /* The streamed poll brought nothing, not even its first line: a proxy holds it back. */
  function buffered(gen, state) {
    transport.longPolling = "a proxy held the streamed response back (nothing within " + STREAM_CHECK_MS + " ms)";
    transport.onlongpoll(transport.longPolling);
    state.replaced = true;
    poll(gen);  // takes over: the server ends the stream, and the proxy passes on what it held
  }

  /* A streamed poll: hand each complete line over as it arrives, then poll again. */
  function read(reader, gen, carrier, state) {
    var decoder = new deps.TextDecoder();
    var buffer = "";
    function more() {
      return reader.read().then(function (chunk) {
        if (gen !== generation) { reader.cancel(); return; }
        if (chunk.done) {
          fromPoll(buffer + decoder.decode(), carrier, state);
          ended(gen, carrier, state);
          return;
        }
        state.heard = true;
        buffer += decoder.decode(chunk.value, { stream: true });
        var end = buffer.lastIndexOf("\n");
        if (end >= 0) {
          var complete = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          fromPoll(complete, carrier, state);
        }
        if (gen === generation) return more();
      });
    }
    return more();
  }

  /* A poll ended whole: poll again (unless a long-poll took over from this one). */
  function ended(gen, carrier, state) {
    if (gen !== generation) return;
    arrived(carrier);
    if (gen === generation && !state.replaced) poll(gen);
  }

  /* A poll's lines: "#N" numbers the batch after it; empty lines carry nothing. */
  function fromPoll(text, carrier, state) {
    var lines = text.split("\n");
    var gen = generation;
    for (var i = 0; i < lines.length && gen === generation; i++) {
      var line = lines[i];
      if (!line) continue;
      if (line.charAt(0) === "#") { state.number = parseInt(line.slice(1), 10); continue; }
      if (state.number === null || !(state.number >= 0)) state.number = next;  // unnumbered: take it now
      take(state.number++, line, carrier);
    }
  }

  function fromPost(first, text, carrier) {
    var lines = text.split("\n");
    var gen = generation;
    if (!(first >= 0)) first = next;  // no number (an intermediary dropped the header): take it now
    for (var i = 0; i < lines.length && gen === generation; i++) if (lines[i]) take(first++, lines[i], carrier);
  }

  /* ---- one order across carriers ---- */

  function reset() {
    next = 0;
    early = {};
    earlyCount = 0;
    carriers = {};
    sent = 0;
  }

  function newCarrier() {
    var carrier = { id: ++sent, highest: -1 };
    carriers[carrier.id] = carrier;
    return carrier;
  }

  /* Message `number` came: take it in if it is the next (then those that waited for it), else keep it. */
  function take(number, line, carrier) {
    if (number > carrier.highest) carrier.highest = number;
    if (number < next) return;  // taken in already
    if (number > next) {
      if (!early[number]) { early[number] = { line: line, sent: sent }; earlyCount += 1; }
      return checkGap();
    }
    var gen = generation;
    deliver(line);
    while (earlyCount && early[next] && gen === generation) {
      var waited = early[next];
      delete early[next];
      earlyCount -= 1;
      deliver(waited.line);
    }
  }

  function deliver(line) {
    attempt = 0;  // the server answered: the next drop starts the backoff afresh
    next += 1;
    transport.onmessage(line);
  }

  /* A carrier's response is complete: it brings nothing more. */
  function arrived(carrier) {
    delete carriers[carrier.id];
    checkGap();
  }

  /* Messages wait for message `next`: lost when no carrier that can still bring it is on its way. */
  function checkGap() {
    if (!earlyCount) return;
    var since = Infinity, first = Infinity;
    for (var number in early) {
      since = Math.min(since, early[number].sent);
      first = Math.min(first, +number);
    }
    for (var id in carriers) {
      if (carriers[id].id <= since && carriers[id].highest < next) return;  // it may still bring it
    }
    closed({ code: 1006, reason: "messages " + next + " to " + (first - 1) + " were lost" });
  }

  function post() {
    var c = conn, gen = generation;
    if (!c || transport.state !== "open" || !outbox.length) { posting = false; return; }
    var size = 0, n = 0;
    while (n < outbox.length && (n === 0 || size + outbox[n].length <= HTTP_BATCH_CHARS)) size += outbox[n++].length + 1;
    var batch = outbox.splice(0, n);
    var carrier = newCarrier();
    request("/send?c=" + encodeURIComponent(c.id) + "&replies=1", "POST", c, batch.join("\n")).then(function (res) {
      if (gen !== generation) return;
      if (res.status === 204) { arrived(carrier); return post(); }
      if (res.status !== 200) return failed(res, gen);
      return res.text().then(function (text) {
        if (gen !== generation) return;
        fromPost(parseInt(res.headers && res.headers.get ? res.headers.get("X-SS-Seq") : "", 10), text, carrier);
        if (gen !== generation) return;
        arrived(carrier);
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
    reset();
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
