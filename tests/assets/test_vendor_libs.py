"""`ss new` client libraries: jQuery and jQuery templates from the pinned npm packages."""
from __future__ import annotations

from ss.assets import node_runtime, vendor_libs
from ss.assets.errors import NodeWorkerError


def test_installs_jquery_and_templates(tmp_path):
    notes = vendor_libs.install_client_libs(tmp_path)
    assert notes == []
    jquery = (tmp_path / "lib/client/1.jquery.min.js").read_text()
    tmpl = (tmp_path / "lib/client/2.jquery.tmpl.min.js").read_text()
    assert "jQuery v3." in jquery[:200]
    assert "jQuery Templates" in tmpl[:200]


def test_says_what_was_skipped_when_packages_cannot_be_had(tmp_path, monkeypatch):
    def offline(progress=None):
        raise NodeWorkerError("npm ci failed (1):\nnpm error network request failed")

    monkeypatch.setattr(node_runtime, "ensure_node_modules", offline)
    notes = vendor_libs.install_client_libs(tmp_path)
    assert len(notes) == 1 and "not added" in notes[0] and "npm ci failed" in notes[0]
    assert (tmp_path / "lib/client").is_dir() and not list((tmp_path / "lib/client").iterdir())
