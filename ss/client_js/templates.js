// SS.tmpl runtime: the helpers that the template functions compiled by
// ss/assets/templates.py call. SS.tmpl["people-customers-info"](data) returns
// HTML with every ${value} escaped; {{html value}} inserts raw HTML.
(function () {
  "use strict";
  var SS = (window.SS = window.SS || {});
  var tmpl = (SS.tmpl = SS.tmpl || {});

  var entities = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function text(value) {
    return value == null ? "" : String(value);
  }

  function escape(value) {
    return text(value).replace(/[&<>"']/g, function (ch) {
      return entities[ch];
    });
  }

  // jQuery templates semantics: a name missing from the data renders as
  // nothing instead of throwing, and a function value is called.
  function value(getter, self) {
    var v;
    try {
      v = getter.call(self);
    } catch (e) {
      if (e instanceof ReferenceError || e instanceof TypeError) return undefined;
      throw e;
    }
    return typeof v === "function" ? v.call(self) : v;
  }

  function each(list, fn) {
    if (list == null) return;
    if (typeof list.length === "number") {
      for (var i = 0; i < list.length; i++) fn(i, list[i]);
    } else {
      for (var key in list) if (Object.prototype.hasOwnProperty.call(list, key)) fn(key, list[key]);
    }
  }

  function sub(name, data) {
    var id = String(name).replace(/^#/, "");
    if (typeof tmpl[id] !== "function") throw new Error("SS.tmpl: no template " + id);
    return tmpl[id](data);
  }

  // Not enumerable, so Object.keys(SS.tmpl) lists only templates.
  Object.defineProperty(tmpl, "_runtime", {
    value: { text: text, escape: escape, value: value, each: each, sub: sub },
    enumerable: false,
    configurable: true,
  });
})();
