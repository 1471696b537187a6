/* reconnect: when to try again after a connection closes. Shared by every transport.
 *
 * Most closes (network loss, server restart) use capped exponential backoff with
 * "equal jitter", so a restarted server is not hit by every tab at the same moment.
 * Close codes that mean something else get one line in CLOSE_CODES:
 *   delay: [min, max]  reconnect after a random delay in that range (ms), outside the backoff
 *   reconnect: false   stay closed
 */

var CLOSE_CODES = {
  // The server is restarting (a deploy): every tab it had gets this at the same moment.
  // The backoff's first wait (0.125-0.25 s) would bring them all back within 125 ms;
  // measured on a 2-core machine (bench/README.md, reconnect storm), one ss process
  // needs ~1.2 ms of CPU per returning tab (session, cookie, init, topics, recovery),
  // so 5,000 tabs are ~6 s of work, and already connected tabs' calls wait behind a
  // queue that arrives at once. Spread over 0.25-5 s the tabs come back about as
  // fast as a server takes them; recovery replays what they missed meanwhile.
  1012: { reason: "server restarting", delay: [250, 5000] },
  // Signed in in another tab, which is now fetching the new session cookie: wait until
  // it is in place, or this tab would reconnect with the old one.
  4001: { reason: "session changed", delay: [1000, 1500] },
  // The app disconnected this user (ss.users.disconnect): only SS.reconnect() connects again.
  4002: { reason: "disconnected by the server", reconnect: false }
};

/* attempt: closes in a row without the server speaking. cfg: client.reconnect (seconds). */
function backoffDelay(attempt, cfg, random) {
  cfg = cfg || {};
  var min = (cfg.min_delay || 0.25) * 1000, max = (cfg.max_delay || 10) * 1000;
  var delay = Math.min(max, min * Math.pow(2, attempt));
  return delay / 2 + random() * delay / 2;
}

/* -> {reconnect: bool, delay: ms, backoff: bool (the delay came from backoff, so count the attempt)} */
function reconnectPlan(code, attempt, cfg, random) {
  var rule = CLOSE_CODES[code];
  if (rule && rule.reconnect === false) return { reconnect: false, delay: 0, backoff: false, reason: rule.reason };
  if (rule && rule.delay) {
    var lo = rule.delay[0], hi = rule.delay[1];
    return { reconnect: true, delay: lo + random() * (hi - lo), backoff: false, reason: rule.reason };
  }
  return { reconnect: true, delay: backoffDelay(attempt, cfg, random), backoff: true, reason: rule && rule.reason };
}
