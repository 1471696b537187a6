// ss development overlay: SS.dev.showError({file, line, column, message})
// covers the page with the compile error until SS.dev.hideError() (sent as
// "asset_ok" once the file is fixed). Loaded only in development.
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

  dev.hideError = function () {
    dev.lastError = null;
    var old = document.getElementById(OVERLAY_ID);
    if (old && old.parentNode) old.parentNode.removeChild(old);
  };
})();
