/* session: signing in gives the session a new id (against session fixation). The cookie is
 * HttpOnly, so the page cannot set it, and the id never reaches page scripts: the server
 * sends a one-time token, and POSTing it to /_ss/session gets the new cookie set. */

/* deps: fetch (absent outside browsers), log. */
function createSession(deps) {
  return {
    rotated: function (msg) {
      if (typeof deps.fetch !== "function") return undefined;
      return deps.fetch("/_ss/session", { method: "POST", credentials: "same-origin", body: msg.token,
                                          headers: { "Content-Type": "text/plain" } })
        .then(function (r) { if (!r.ok) deps.log("error", "ss: could not update the session cookie (" + r.status + ")"); })
        .catch(function (e) { deps.log("error", "ss: could not update the session cookie", e); });
    }
  };
}
