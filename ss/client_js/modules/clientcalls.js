/* clientcalls: the server calling this tab. A client_call names a function under SS.client
 * ("app.confirm" is SS.client.app.confirm); it runs with the call's args, a returned Promise
 * is awaited, and the answer goes back once as a client_reply of the same id: the result, or
 * an error coded no_such_function, client_error or bad_result (docs/protocol.md). */

var CLIENT_ERROR_MAX_LENGTH = 1000;

/* deps: tree() -> SS.client, connectionId() -> the current connection's id, send(frame) -> bool
 * (false when not connected), log. */
function createClientCalls(deps) {
  var own = Object.prototype.hasOwnProperty;

  /* [owner, function] for a dotted path of own properties under SS.client, or null. No part may be
   * empty or start with "_" (private by the same rule as server actions; no __proto__ either). */
  function lookup(method) {
    if (typeof method !== "string") return null;
    var parts = method.split(".");
    var owner = null, node = deps.tree();
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (!part || part.charAt(0) === "_") return null;
      if (node === null || (typeof node !== "object" && typeof node !== "function") || !own.call(node, part)) return null;
      owner = node;
      node = node[part];
    }
    return typeof node === "function" && owner !== deps.tree() ? [owner, node] : null;
  }

  function messageOf(error) {
    var text = error && typeof error.message === "string" ? error.message : String(error);
    return text.length > CLIENT_ERROR_MAX_LENGTH ? text.slice(0, CLIENT_ERROR_MAX_LENGTH) : text;
  }

  function receive(msg) {
    if (typeof msg.id !== "number") {
      deps.log("debug", "ss: ignoring a client_call without a numeric id", msg);
      return;
    }
    var id = msg.id, method = msg.method;
    var connectionId = deps.connectionId();
    var answered = false;

    function send(reply) {
      if (answered) return;
      answered = true;
      var frame;
      try {
        if (typeof reply.result === "function" || typeof reply.result === "symbol") {
          throw new TypeError("a " + typeof reply.result + " cannot be sent as JSON");
        }
        frame = JSON.stringify(reply);
      } catch (e) {
        frame = JSON.stringify({ type: "client_reply", id: id, error: { code: "bad_result", message: messageOf(e) } });
      }
      // The server failed this call when its connection went: a newer connection never asked.
      if (deps.connectionId() !== connectionId || !deps.send(frame)) {
        deps.log("debug", "ss: the answer to SS.client." + method + " came after its connection closed; dropped");
      }
    }
    function ok(value) { send({ type: "client_reply", id: id, result: value === undefined ? null : value }); }
    function fail(code, message) { send({ type: "client_reply", id: id, error: { code: code, message: message } }); }
    function failed(error) { fail("client_error", messageOf(error)); }

    var found = lookup(method);
    if (!found) return fail("no_such_function", "SS.client." + method + " is not a function");
    deps.log("calls", "\u21d0 SS.client." + method, msg.args);
    var result;
    try {
      result = found[1].apply(found[0], Array.isArray(msg.args) ? msg.args : []);
    } catch (e) {
      return failed(e);
    }
    if (result !== null && (typeof result === "object" || typeof result === "function") && typeof result.then === "function") {
      try { result.then(ok, failed); } catch (e) { failed(e); }
      return;
    }
    ok(result);
  }

  return { receive: receive };
}
