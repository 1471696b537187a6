/* log: console output filtered by SS.config.log.level (1 error, 2 info, 3 calls, 4 debug). */

var LOG_LEVELS = { error: 1, info: 2, calls: 3, debug: 4 };

/* getConfig is a function because SS.config is replaced on every init. */
function createLog(getConfig, out) {
  return function log(kind) {
    var c = getConfig() && getConfig().log;
    var level = c && typeof c.level === "number" ? c.level : 2;
    if (level < (LOG_LEVELS[kind] || 2)) return;
    var args = Array.prototype.slice.call(arguments, 1);
    (kind === "error" ? out.error : out.log).apply(out, args);
  };
}
