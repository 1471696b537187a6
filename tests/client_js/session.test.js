"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./helpers");

test("a session message POSTs its token to /_ss/session", async () => {
  const { createSession } = load("session");
  const posts = [];
  const session = createSession({ fetch: (url, init) => { posts.push([url, init]); return Promise.resolve({ ok: true, status: 204 }); },
                                  log: () => assert.fail("nothing to log") });
  await session.rotated({ type: "session", token: "T0K3N" });
  assert.deepEqual(posts, [["/_ss/session", { method: "POST", credentials: "same-origin", body: "T0K3N",
                                              headers: { "Content-Type": "text/plain" } }]]);
});

test("a refused or failed POST is logged as an error", async () => {
  const { createSession } = load("session");
  const logged = [];
  const log = (...args) => logged.push(args);
  await createSession({ fetch: () => Promise.resolve({ ok: false, status: 403 }), log }).rotated({ token: "t" });
  await createSession({ fetch: () => Promise.reject(new Error("offline")), log }).rotated({ token: "t" });
  assert.deepEqual(logged.map((l) => [l[0], l[1]]), [
    ["error", "ss: could not update the session cookie (403)"],
    ["error", "ss: could not update the session cookie"],
  ]);
});

test("without fetch (the server's V8) the message is ignored", () => {
  const { createSession } = load("session");
  assert.equal(createSession({ fetch: undefined, log: () => {} }).rotated({ token: "t" }), undefined);
});
