/* heartbeat: "this tab is still here" every client.heartbeat_interval seconds while
 * connected, so users online stays right without a call from the app. */

/* deps: setInterval, clearInterval, send(frame) -> bool (a missed beat is not worth queueing). */
function createHeartbeat(deps) {
  var timer = null;
  var frame = JSON.stringify({ type: "heartbeat" });
  function stop() {
    if (timer !== null) deps.clearInterval(timer);
    timer = null;
  }
  return {
    start: function (seconds) {
      stop();
      if (seconds > 0) timer = deps.setInterval(function () { deps.send(frame); }, seconds * 1000);
    },
    stop: stop
  };
}
