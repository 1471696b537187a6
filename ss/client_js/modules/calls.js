/* calls: SS.server.* and SS.call. Numbers calls, keeps them until their reply, sends
 * them again after a reconnect (the server runs each id at most once), and fails the
 * ones that asked not to wait: {volatile: true} and {timeout: ms}. */

var CALL_OPTION_KEYS = { silent: 1, volatile: 1, timeout: 1 };

function CallFailed(error, method) {
  this.name = "CallFailed";
  this.code = error.code;
  this.message = method + ": " + error.message;
  this.traceback = error.traceback;
}
CallFailed.prototype = Object.create(Error.prototype);
CallFailed.prototype.constructor = CallFailed;

/* The last argument of SS.server.x.y(...) is options only when every key is an option:
 * {timeout: 5} is options, {timeout: 5, name: "a"} is data. */
function isCallOptions(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  var keys = Object.keys(value);
  return keys.length > 0 && keys.every(function (k) { return CALL_OPTION_KEYS[k] === 1; });
}

/* deps: link {ready() -> bool, send(frame) -> bool}, tree (the object to fill: SS.server),
 * setTimeout, clearTimeout, log, console, isDevelopment(). */
function createCalls(deps) {
  var nextId = 1;
  var pending = {};   // id -> {method, frame, silent, volatile, timer, resolve, reject}

  function settle(id, error, result) {
    var entry = pending[id];
    if (!entry) return;   // a reply to a call that already timed out
    delete pending[id];
    if (entry.timer != null) deps.clearTimeout(entry.timer);
    if (error) {
      var failure = new CallFailed(error, entry.method);
      if (!entry.silent) deps.log("error", "ss: " + failure.message + (error.traceback ? "\n" + error.traceback : ""));
      entry.reject(failure);
    } else {
      if (!entry.silent) deps.log("calls", "\u2190 " + entry.method, result);
      entry.resolve(result);
    }
  }

  /** call("app.square", [25], cb?, options?) -> Promise, or undefined when cb is given.
   *  Calls made while offline wait for the connection; calls cut off by a disconnect are
   *  re-sent with the same id. {volatile: true}: fail at once when offline or cut off.
   *  {timeout: ms}: fail when unanswered that long. {silent: true}: no logging. */
  function call(method, args, cb, options) {
    options = options || {};
    args = args || [];
    var id = nextId++;
    var message = { type: "call", id: id, method: method, args: args };
    if (options.silent) message.silent = true;
    var entry = { method: method, silent: !!options.silent, volatile: !!options.volatile,
                  frame: JSON.stringify(message), timer: null };
    var promise = new Promise(function (resolve, reject) {
      entry.resolve = resolve;
      entry.reject = reject;
    });
    pending[id] = entry;
    if (options.timeout) {
      entry.timer = deps.setTimeout(function () {
        settle(id, { code: "timeout", message: "no reply within " + options.timeout + " ms" });
      }, options.timeout);
    }
    if (!options.silent) deps.log("calls", "\u2192 " + method, args);
    var sent = deps.link.ready() && deps.link.send(entry.frame);
    if (!sent && options.volatile) settle(id, { code: "offline", message: "not connected; volatile call dropped" });
    if (typeof cb === "function") {
      promise.then(cb, function () { /* the failure is logged already */ });
      return undefined;
    }
    if (deps.isDevelopment() && !options.silent) {
      promise.then(function (r) {
        deps.console.log(method + "(" + args.map(function (a) { return JSON.stringify(a); }).join(", ") + ") \u2192", r);
      }, function () {});
    }
    return promise;
  }

  /* A reply or an error message from the server. */
  function receive(msg) {
    if (msg.type === "reply") return settle(msg.id, null, msg.result);
    if (msg.id == null) {
      // The server could not read one of our messages far enough to find its id.
      deps.console.error("ss: the server refused a message: " + msg.error.code + ": " + msg.error.message);
      return;
    }
    settle(msg.id, msg.error);
  }

  function pendingIds() {
    return Object.keys(pending).map(Number).sort(function (a, b) { return a - b; });
  }

  /* After (re)connecting: everything unanswered, oldest first, so the server runs them in call order. */
  function resend() {
    pendingIds().forEach(function (id) { deps.link.send(pending[id].frame); });
  }

  function dropVolatile() {
    pendingIds().forEach(function (id) {
      if (pending[id].volatile) settle(id, { code: "disconnected", message: "connection lost; volatile call dropped" });
    });
  }

  function action(method) {
    return function () {
      var args = Array.prototype.slice.call(arguments);
      var options = null, cb = null;
      if (args.length && isCallOptions(args[args.length - 1])) options = args.pop();
      if (args.length && typeof args[args.length - 1] === "function") cb = args.pop();
      return call(method, args, cb, options);
    };
  }

  /* The server's API tree ({"app": {"square": 1}}) becomes functions in deps.tree, replacing
   * what was there (development reloads the server code and sends a new tree). */
  function mount(api) {
    function walk(node, target, prefix) {
      Object.keys(node).forEach(function (name) {
        var path = prefix ? prefix + "." + name : name;
        if (node[name] === 1) target[name] = action(path);
        else walk(node[name], target[name] = (typeof target[name] === "object" ? target[name] : {}), path);
      });
    }
    Object.keys(deps.tree).forEach(function (k) { delete deps.tree[k]; });
    walk(api || {}, deps.tree, "");
  }

  return { call: call, receive: receive, resend: resend, dropVolatile: dropVolatile,
           action: action, mount: mount, pendingIds: pendingIds };
}
