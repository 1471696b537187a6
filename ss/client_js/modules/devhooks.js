/* devhooks: what the development server asks of the page: reload it, swap the stylesheet,
 * show or hide a compile error (the overlay is SS.dev, from dev.js, loaded only in development). */

/* deps: location, document, dev() (SS.dev or undefined), console. */
function createDevHooks(deps) {
  /* The page's assets are older than the server's: a reload message was missed while this
   * tab was reloading or the server restarting. */
  function staleAssets(msg) {
    var meta = deps.document && deps.document.querySelector('meta[name="ss-assets"]');
    return !!(msg.assets && meta && meta.content !== msg.assets);
  }

  function css(href) {
    var doc = deps.document;
    var old = doc.querySelector("link[data-ss-css]");
    var link = doc.createElement("link");
    link.rel = "stylesheet";
    link.setAttribute("data-ss-css", "");
    link.href = href;
    // The old sheet goes only once the new one applies, so the page never shows unstyled.
    link.onload = function () { if (old && old.parentNode) old.parentNode.removeChild(old); };
    (old && old.parentNode ? old.parentNode : doc.head).insertBefore(link, old ? old.nextSibling : null);
  }

  function assetError(error) {
    var dev = deps.dev();
    if (dev && dev.showError) dev.showError(error);
    else deps.console.error(error);
  }

  function assetOk() {
    var dev = deps.dev();
    if (dev && dev.hideError) dev.hideError();
  }

  return { staleAssets: staleAssets, reload: function () { deps.location.reload(); },
           css: css, assetError: assetError, assetOk: assetOk };
}
