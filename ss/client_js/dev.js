// ss development overlay: SS.dev.showError({file, line, column, message})
// covers the page with the compile error until SS.dev.hideError() (sent as
// "asset_ok" once the file is fixed). Content-Security-Policy violations get a
// bar at the bottom (#ss-dev-csp) naming what broke the policy and the setting
// that decides it: a console line alone is too easy to miss. Loaded only in
// development.
(function () {
  "use strict";
  var SS = (window.SS = window.SS || {});
  var dev = (SS.dev = SS.dev || {});
  var OVERLAY_ID = "ss-dev-overlay";

  function where(e) {
    var text = e.file || "";
    if (e.line) text += ":" + e.line + (e.column ? ":" + e.column : "");
    return text;
  }

  function build(e) {
    var box = document.createElement("div");
    box.id = OVERLAY_ID;
    box.setAttribute("role", "alert");
    box.style.cssText =
      "position:fixed;inset:0;z-index:2147483647;background:rgba(20,20,20,.92);color:#f8f8f2;" +
      "font:14px/1.5 Menlo,Consolas,monospace;padding:32px;overflow:auto;white-space:pre-wrap;";
    var title = document.createElement("div");
    title.style.cssText = "color:#ff6b6b;font-size:18px;margin-bottom:12px;";
    title.textContent = "Compile error";
    var file = document.createElement("div");
    file.className = "ss-dev-file";
    file.style.cssText = "color:#8be9fd;margin-bottom:12px;";
    file.textContent = where(e);
    var message = document.createElement("div");
    message.className = "ss-dev-message";
    message.textContent = e.message || "";
    var hint = document.createElement("div");
    hint.style.cssText = "color:#999;margin-top:24px;font-size:12px;";
    hint.textContent = "Fix the file and save: this goes away by itself.";
    box.appendChild(title);
    box.appendChild(file);
    box.appendChild(message);
    box.appendChild(hint);
    return box;
  }

  dev.showError = function (e) {
    e = e || {};
    if (window.console) console.error("ss: " + where(e) + " " + (e.message || ""));
    dev.lastError = e;
    var show = function () {
      dev.hideError();
      document.body.appendChild(build(e));
    };
    // Errors can arrive from a <script> in <head>, before <body> exists.
    if (document.body) show();
    else document.addEventListener("DOMContentLoaded", show);
  };

  var CSP_ID = "ss-dev-csp";
  var MAX_CSP_LINES = 5;

  function cspLine(e) {
    var blocked = e.blockedURI || "";
    var what = blocked === "inline" ? "inline script or event handler (on...=)" :
      blocked === "eval" ? "eval() / new Function()" : blocked || "a resource";
    var where = (e.sourceFile || e.documentURI || "") + (e.lineNumber ? ":" + e.lineNumber : "");
    var directive = e.effectiveDirective || e.violatedDirective || "";
    if (e.disposition === "report") {
      return "Reported, not blocked: " + what + " at " + where + " (" + directive + "). " +
        "security.enforce_script_policy = True would block it: move it into app/client, or allow it in security.script_policy.";
    }
    return "Blocked: " + what + " at " + where + " (" + directive + "). " +
      "Allow it in security.script_policy / security.content_security_policy, or set security.enforce_script_policy = False.";
  }

  function cspBar() {
    var bar = document.getElementById(CSP_ID);
    if (bar) return bar;
    bar = document.createElement("div");
    bar.id = CSP_ID;
    bar.setAttribute("role", "status");
    bar.style.cssText =
      "position:fixed;left:0;right:0;bottom:0;z-index:2147483646;background:#3b2f00;color:#ffe08a;" +
      "font:12px/1.4 Menlo,Consolas,monospace;padding:6px 28px 6px 10px;max-height:40vh;overflow:auto;";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.title = "Hide (development only)";
    close.style.cssText = "position:absolute;top:2px;right:6px;background:none;border:0;color:inherit;font-size:16px;cursor:pointer;";
    close.addEventListener("click", function () { bar.parentNode.removeChild(bar); });
    var title = document.createElement("div");
    title.textContent = "Content-Security-Policy (development notice):";
    bar.appendChild(close);
    bar.appendChild(title);
    document.body.appendChild(bar);
    return bar;
  }

  var cspSeen = {};
  dev.showCspViolation = function (e) {
    var line = cspLine(e);
    if (cspSeen[line] || !document.body) return;  // one line per distinct violation
    cspSeen[line] = true;
    var bar = cspBar();
    if (bar.querySelectorAll(".ss-dev-csp-line").length >= MAX_CSP_LINES) return;
    var item = document.createElement("div");
    item.className = "ss-dev-csp-line";
    item.textContent = line;
    bar.appendChild(item);
  };

  document.addEventListener("securitypolicyviolation", function (e) {
    // Before <body> exists (a violation in <head>), wait for it.
    if (document.body) dev.showCspViolation(e);
    else document.addEventListener("DOMContentLoaded", function () { dev.showCspViolation(e); });
  });

  dev.hideError = function () {
    dev.lastError = null;
    var old = document.getElementById(OVERLAY_ID);
    if (old && old.parentNode) old.parentNode.removeChild(old);
  };
})();
