"""jQuery 3 and jQuery templates for new apps, taken from the pinned npm packages.

`ss new` puts them in lib/client as ``1.jquery.min.js`` and
``2.jquery.tmpl.min.js``. They come from the same lockfile-pinned cache as the
compilers (never from copies committed to ss); when they cannot be had the app
still works (SS.tmpl needs no plugin) and the notes say what was skipped.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from . import node_runtime
from .errors import NodeWorkerError

#: file written into lib/client -> (npm package, file inside it)
CLIENT_LIBS: dict[str, tuple[str, str]] = {
    "1.jquery.min.js": ("jquery", "dist/jquery.min.js"),
    "2.jquery.tmpl.min.js": ("jquery-templates", "jquery.tmpl.min.js"),
}


def install_client_libs(app_root: Path) -> list[str]:
    """Copy jQuery and jQuery templates into ``app_root/lib/client``.

    Returns human-readable notes about anything skipped (empty when all went in).
    Never raises for a missing package or network: the app works without them.
    """
    target = Path(app_root) / "lib" / "client"
    target.mkdir(parents=True, exist_ok=True)
    try:
        modules = node_runtime.ensure_node_modules()
    except (NodeWorkerError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [f"jQuery and jQuery templates were not added to lib/client ({first_line}); "
                "add them there by hand if you want $(...) and .tmpl(); SS.tmpl works without them"]
    notes = []
    for name, (package, inner) in CLIENT_LIBS.items():
        source = modules / package / inner
        if not source.is_file():
            notes.append(f"{name} was not added: {package}/{inner} is missing from the npm cache")
            continue
        shutil.copyfile(source, target / name)
    return notes
