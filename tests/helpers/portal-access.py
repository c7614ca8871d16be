#!/usr/bin/python3
"""A stand-in for a desktop's Access dialog (org.freedesktop.impl.portal.Access),
for tests of the Screenshot portal: it answers every request "allowed", as a
user who clicks Allow does. The portal offers Screenshot only when some
backend provides Access; on a real wlroots desktop xdg-desktop-portal-gtk does.

Run on the session bus the portal uses (DBUS_SESSION_BUS_ADDRESS)."""

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

NAME = "org.freedesktop.impl.portal.desktop.dropcasttest"


class Access(dbus.service.Object):
    @dbus.service.method(
        "org.freedesktop.impl.portal.Access",
        in_signature="osssssa{sv}",
        out_signature="ua{sv}",
    )
    def AccessDialog(self, handle, app_id, parent, title, subtitle, body, options):
        return dbus.UInt32(0), dbus.Dictionary({}, signature="sv")


dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
owned = dbus.service.BusName(NAME, bus)
Access(bus, "/org/freedesktop/portal/desktop")
GLib.MainLoop().run()
