"""The pre-pass that lets 2011 Jade layouts render with pypugjs."""
from __future__ import annotations

from ss.assets.jade import ASSET_TAGS_MARKER, prepass, render


def test_old_doctype_and_colon_attributes():
    html = render('!!! 5\nhtml(lang:"en")\n  body\n    a(href: "/x", class:"y") go\n', "app.jade")
    assert html == '<!DOCTYPE html><html lang="en"><body><a href="/x" class="y">go</a></body></html>'


def test_socketstream_helper_becomes_marker():
    html = render("html\n  head\n    != SocketStream\n", "app.jade")
    assert html == f"<html><head>{ASSET_TAGS_MARKER}</head></html>"


def test_namespaced_attributes_and_colons_in_values_are_kept():
    out = prepass("use(xlink:href=\"#i\", data-x: 'a:b')")
    assert out == "use(xlink:href=\"#i\", data-x= 'a:b')"


def test_old_script_body_without_dot_is_raw_text():
    html = render('html\n  head\n    script(type:"text/javascript")\n      if (a < b) { go(); }\n', "app.jade")
    assert "<script type=\"text/javascript\">if (a < b) { go(); }</script>" in html


def test_text_blocks_are_left_alone():
    src = "div\n  p.\n    a(b:c) stays\n"
    assert prepass(src) == src


def test_modern_pug_unchanged():
    src = 'doctype html\nhtml(lang="en")\n  body\n    p(class="a") hi\n'
    assert prepass(src) == src
