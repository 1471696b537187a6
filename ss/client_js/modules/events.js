/* events: pub/sub delivery to SS.events, and the per-stream offsets behind message
 * recovery (docs/protocol.md, "Message recovery"). */

/* deps: emit(event, data, channel) (SS.events.emit), failed(lost) (recovery_failed for the app), log. */
function createEvents(deps) {
  var offsets = {};   // stream -> last offset seen

  function deliver(msg) {
    if (msg.stream != null) {
      // A replayed message can also arrive live (or the other way round): once is enough.
      if (offsets[msg.stream] != null && msg.offset <= offsets[msg.stream]) return;
      offsets[msg.stream] = msg.offset;
    }
    deps.log("debug", "ss: event", msg.event, msg.data);
    deps.emit(msg.event, msg.data, msg.channel);
  }

  /* Anything to recover: the socket URL then asks the server to hold live messages until the replay. */
  function recovering() {
    return Object.keys(offsets).length > 0;
  }

  /* The first message after a reconnect, or null when no stream was seen yet. */
  function recoverMessage() {
    if (!recovering()) return null;
    var streams = {};
    Object.keys(offsets).forEach(function (s) { streams[s] = offsets[s]; });
    return { type: "recover", streams: streams };
  }

  /* These streams lost messages for good: forget them (their next message starts afresh) and
   * tell the app, except "not_subscribed" ones (a channel left or a user signed out meanwhile). */
  function recoveryFailed(msg) {
    var streams = msg.streams || {}, lost = {}, any = false;
    Object.keys(streams).forEach(function (stream) {
      delete offsets[stream];
      if (streams[stream] !== "not_subscribed") { lost[stream] = streams[stream]; any = true; }
    });
    if (!any) return;
    deps.log("info", "ss: missed messages could not be recovered", lost);
    deps.failed(lost);
  }

  return { deliver: deliver, recovering: recovering, recoverMessage: recoverMessage,
           recoveryFailed: recoveryFailed,
           offset: function (stream) { return offsets[stream]; } };
}
