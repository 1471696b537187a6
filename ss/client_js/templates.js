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

  // jQuery templates ($("#id").tmpl(data)) compiles a view with new Function(), which a
  // script policy without 'unsafe-eval' forbids. Every view already has a function
  // compiled at build time, so hand jQuery that one instead; views it was not given
  // (strings, other elements) still go through its own compiler.
  var jq = window.jQuery;
  if (jq && typeof jq.template === "function" && !jq.template._ss) {
    var compile = jq.template;
    jq.template = function (name, source) {
      var el = source && source.jquery ? source[0] : source;
      if (el && el.nodeType === 1 && el.id && typeof tmpl[el.id] === "function" && !jq.data(el, "tmpl")) {
        var fn = tmpl[el.id];
        jq.data(el, "tmpl", function (jQuery, item) {
          return [fn(item.data)];
        });
      }
      return compile.apply(this, arguments);
    };
    for (var key in compile) if (Object.prototype.hasOwnProperty.call(compile, key)) jq.template[key] = compile[key];
    jq.template._ss = true;
  }

  // Not enumerable, so Object.keys(SS.tmpl) lists only templates.
  Object.defineProperty(tmpl, "_runtime", {
    value: { text: text, escape: escape, value: value, each: each, sub: sub },
    enumerable: false,
    configurable: true,
  });
})();
