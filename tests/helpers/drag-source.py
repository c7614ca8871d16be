#!/usr/bin/python3
"""A test helper: a small GTK window titled "drag source" at the top-left
corner that offers the files named on the command line to XDND drags
(text/uri-list), so a test can drag real files onto a window with xdotool,
as a file manager would."""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gio, Gtk  # noqa: E402

uris = [Gio.File.new_for_path(p).get_uri() for p in sys.argv[1:]]
window = Gtk.Window(title="drag source")
window.set_default_size(160, 160)
window.move(0, 0)
box = Gtk.EventBox()
box.add(Gtk.Label(label="\n".join(p.rsplit("/", 1)[-1] for p in sys.argv[1:])))
window.add(box)
box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
box.drag_source_add_uri_targets()
box.connect("drag-data-get", lambda _w, _ctx, data, _info, _time: data.set_uris(uris))
window.connect("destroy", Gtk.main_quit)
window.show_all()
Gtk.main()
