"use strict";
/* The HTTP transport's order across polls and POST answers, and its fallback to long-polling
 * when a proxy holds streamed responses back (ss/client_js/modules/httptransport.js). */
const test = require("node:test");
const assert = require("node:assert/strict");
const { load, fakeClock, flush } = require("./helpers");

/* A fake server: the test answers each request; a streamed poll is fed chunk by chunk. */
function fakeHttp() {
  const requests = [];
  const fetch = (url, init) => new Promise((resolve, reject) => requests.push({ url, init, resolve, reject }));
  const take = (part) => {
    const i = requests.findIndex((r) => r.url.includes(part));
    assert.ok(i >= 0, "no request to " + part + " among " + requests.map((r) => r.url));
    return requests.splice(i, 1)[0];
  };
  const answer = (req, status, text, headers = {}) => req.resolve({
    status, body: null,
    headers: { get: (name) => (name in headers ? String(headers[name]) : null) },
    json: () => Promise.resolve(JSON.parse(text)),
    text: () => Promise.resolve(text),
  });
  /* Answers a streamed poll; returns {push(text), end()}. */
  const stream = (req) => {
    const chunks = [];
    let wake = null;
    const reader = {
      read: () => new Promise((resolve) => {
        const give = () => resolve(chunks.shift());
        if (chunks.length) give(); else wake = give;
      }),
      cancel() {},
    };
    req.resolve({ status: 200, body: { getReader: () => reader }, headers: { get: () => null } });
    const put = (chunk) => { chunks.push(chunk); if (wake) { const w = wake; wake = null; w(); } };
    return { push: (text) => put({ done: false, value: new TextEncoder().encode(text) }), end: () => put({ done: true }) };
  };
  return { requests, fetch, take, answer, stream };
}

function setup({ streaming = false } = {}) {
  const m = load("reconnect", "httptransport");
  const clock = fakeClock();
  const server = fakeHttp();
  const http = m.createHttpTransport({
    fetch: server.fetch, setTimeout: clock.setTimeout, random: () => 0, base: "/_ss/http", query: () => "tab=t",
    reconnectConfig: () => ({ min_delay: 0.25, max_delay: 10 }), streaming: () => streaming, TextDecoder,
  });
  const got = [];
  const closes = [];
  const notes = [];
  http.onmessage = (text) => got.push(JSON.parse(text).n);
  http.onclose = (info) => closes.push(info);
  http.onlongpoll = (reason) => notes.push(reason);
  return { http, clock, server, got, closes, notes };
}

async function open(server, http) {
  http.start();
  await flush();
  server.answer(server.take("/open"), 200, JSON.stringify({ connection: "c1", secret: "s" }));
  await flush(); await flush();
}

const lines = (...ns) => ns.map((n) => JSON.stringify({ n })).join("\n") + "\n";

/* A poll's batch: the line #N (the number of its first message), then its messages. */
const batch = (...ns) => "#" + ns[0] + "\n" + lines(...ns);

test("a reply is never dropped when the poll brings a later message before the POST's answer", async () => {
  // Seen behind a round-robin proxy: the POST's answer took message 1 (the call's reply), then the
  // poll took message 2 (an event) and brought it first. Both carriers number their messages, so the
  // event waits for the reply.
  const { http, clock, server, got, closes } = setup({ streaming: true });
  await open(server, http);
  const stream = server.stream(server.take("/poll?c=c1&stream=1"));
  stream.push("\n" + batch(0));
  await flush(); await flush();
  http.send('{"type":"call"}');
  clock.advance(0);
  const post = server.take("/send?c=c1");
  assert.match(post.url, /[?&]replies=1/);                         // one round trip per call
  stream.push(batch(2));                                           // the event, taken after the reply
  await flush(); await flush();
  assert.deepEqual(got, [0]);
  server.answer(post, 200, lines(1), { "X-SS-Seq": 1 });           // the reply, arriving last
  await flush(); await flush();
  assert.deepEqual(got, [0, 1, 2]);
  assert.equal(closes.length, 0);
});

test("a long-poll that ends while the POST holding earlier messages is on its way loses nothing", async () => {
  // The other order of the case above, with long-polls: the poll ends (with message 2) before the
  // POST's answer (message 1) comes. The POST may still bring it: no reconnect, no call sent twice.
  const { http, clock, server, got, closes } = setup();
  await open(server, http);
  server.answer(server.take("/poll?c=c1"), 200, batch(0));
  await flush(); await flush();
  const poll = server.take("/poll?c=c1");
  http.send('{"type":"call"}');
  clock.advance(0);
  const post = server.take("/send?c=c1");
  server.answer(poll, 200, batch(2));
  await flush(); await flush();
  assert.deepEqual(got, [0]);
  assert.equal(closes.length, 0);
  assert.ok(server.take("/poll?c=c1"));                            // polling goes on meanwhile
  server.answer(post, 200, lines(1), { "X-SS-Seq": 1 });
  await flush(); await flush();
  assert.deepEqual(got, [0, 1, 2]);
  assert.equal(closes.length, 0);
});

test("a POST answer with messages waits for the messages the poll still brings", async () => {
  const { http, clock, server, got, closes } = setup();
  await open(server, http);
  const poll = server.take("/poll?c=c1");
  assert.ok(!poll.url.includes("stream"));
  http.send('{"type":"call"}');
  clock.advance(0);
  const post = server.take("/send?c=c1");
  server.answer(post, 200, lines(3, 4), { "X-SS-Seq": 3 });   // 0..2 went to the poll, still on its way
  await flush(); await flush();
  assert.deepEqual(got, []);
  server.answer(poll, 200, batch(0, 1, 2));
  await flush(); await flush();
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  const next = server.take("/poll?c=c1");
  http.send('{"type":"call"}');
  clock.advance(0);
  server.answer(server.take("/send"), 204, "");                  // nothing ready yet: the poll brings it
  await flush();
  server.answer(next, 200, batch(5));
  await flush(); await flush();
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  assert.equal(closes.length, 0);
});

test("a streamed poll and POST answers interleave in the server's order", async () => {
  const { http, clock, server, got } = setup({ streaming: true });
  await open(server, http);
  const stream = server.stream(server.take("/poll?c=c1&stream=1"));
  stream.push("\n" + batch(0));
  await flush(); await flush();
  http.send('{"type":"call"}');
  clock.advance(0);
  server.answer(server.take("/send"), 200, lines(3), { "X-SS-Seq": 3 });
  await flush(); await flush();
  assert.deepEqual(got, [0]);
  const more = batch(1, 2) + batch(4);
  stream.push(more.slice(0, 7));                                   // half a line: nothing more yet
  await flush(); await flush();
  assert.deepEqual(got, [0]);
  stream.push(more.slice(7));
  await flush(); await flush();
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
});

test("a message taken in already (a number below the next) is not taken in twice", async () => {
  const { http, clock, server, got, closes } = setup();
  await open(server, http);
  server.answer(server.take("/poll?c=c1"), 200, batch(0, 1));
  await flush(); await flush();
  http.send('{"type":"call"}');
  clock.advance(0);
  server.answer(server.take("/send"), 200, lines(1, 2), { "X-SS-Seq": 1 });
  await flush(); await flush();
  assert.deepEqual(got, [0, 1, 2]);
  assert.equal(closes.length, 0);
});

test("messages no request still on its way can bring are lost: the connection is dropped and reopened", async () => {
  const { http, clock, server, got, closes } = setup();
  await open(server, http);
  const poll = server.take("/poll");
  http.send('{"type":"call"}');
  clock.advance(0);
  server.answer(server.take("/send"), 200, lines(2), { "X-SS-Seq": 2 });
  await flush(); await flush();
  assert.equal(closes.length, 0);                                  // the poll may still bring 0 and 1
  server.answer(poll, 200, batch(0));                              // message 1 never comes
  await flush(); await flush();
  assert.deepEqual(got, [0]);
  assert.equal(closes.length, 1);
  assert.equal(closes[0].code, 1006);
  assert.match(closes[0].reason, /lost/);
  clock.advance(250);
  assert.ok(server.take("/open"));
});

test("a proxy that holds the stream back: the page long-polls, and the held messages come first", async () => {
  const { http, clock, server, got, notes } = setup({ streaming: true });
  await open(server, http);
  const first = server.take("/poll?c=c1&stream=1");                // the proxy answers nothing yet
  clock.advance(1999);
  assert.equal(server.requests.length, 0);
  clock.advance(1);
  assert.equal(notes.length, 1);
  assert.match(http.longPolling, /held the streamed response back/);
  const takeover = server.take("/poll?c=c1");                     // a long-poll takes over
  assert.ok(!takeover.url.includes("stream"));
  server.answer(takeover, 200, batch(2));                         // it may come first...
  await flush(); await flush();
  assert.deepEqual(got, []);
  const stream = server.stream(first);                            // ...the held stream ends and comes whole
  stream.push("\n" + batch(0, 1));
  stream.end();
  for (let i = 0; i < 6; i++) await flush();
  assert.deepEqual(got, [0, 1, 2]);
  const next = server.take("/poll?c=c1");                         // and long-polls from now on
  assert.ok(!next.url.includes("stream"));
  assert.equal(server.requests.length, 0);
});

test("a stream whose first line comes in time stays a stream", async () => {
  const { http, clock, server, notes } = setup({ streaming: true });
  await open(server, http);
  const stream = server.stream(server.take("/poll?c=c1&stream=1"));
  stream.push("\n");
  await flush(); await flush();
  clock.advance(5000);
  assert.equal(notes.length, 0);
  assert.equal(http.longPolling, null);
  stream.end();
  await flush(); await flush(); await flush();
  assert.ok(server.take("/poll?c=c1&stream=1"));
});
