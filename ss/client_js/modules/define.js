/* define: SS.define(tree, path, factory) mounts an app/client or app/shared module,
 * as compiled by the asset pipeline, at SS[tree].<path with dots>. */

function createDefine(SS) {
  return function define(tree, path, factory) {
    var root = SS[tree];
    var parts = path.split("/");
    var name = parts.pop();
    parts.forEach(function (part) { root = root[part] = root[part] || {}; });
    // A folder and a file of the same name share one object: keep what is there.
    var exports = root[name] || {};
    var module = { exports: exports };
    factory(exports, module);
    root[name] = module.exports;
  };
}
