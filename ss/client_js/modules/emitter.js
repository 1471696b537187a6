/* emitter: the tiny event emitter behind SS.events and SS.socket. */

/* onError: where a throwing handler is reported, so one bad handler cannot stop the others. */
function Emitter(onError) {
  this._handlers = {};
  this._onError = onError || function (name, e) { console.error("ss: a handler for '" + name + "' failed", e); };
}
Emitter.prototype.on = function (name, fn) {
  (this._handlers[name] = this._handlers[name] || []).push(fn);
  return this;
};
Emitter.prototype.off = function (name, fn) {
  var list = this._handlers[name] || [];
  this._handlers[name] = fn ? list.filter(function (f) { return f !== fn; }) : [];
  return this;
};
Emitter.prototype.once = function (name, fn) {
  var self = this;
  function wrapper() { self.off(name, wrapper); fn.apply(this, arguments); }
  return this.on(name, wrapper);
};
Emitter.prototype.emit = function (name) {
  var args = Array.prototype.slice.call(arguments, 1), self = this;
  // A copy: a handler may remove itself (once) or others while we iterate.
  (this._handlers[name] || []).slice().forEach(function (fn) {
    try { fn.apply(null, args); } catch (e) { self._onError(name, e); }
  });
};
