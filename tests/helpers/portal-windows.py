#!/usr/bin/python3
"""A stand-in for a desktop's ScreenCast backend that shares windows
(org.freedesktop.impl.portal.ScreenCast), for tests: Debian 12's
xdg-desktop-portal-wlr shares monitors only, and GNOME's, KDE's and
Hyprland's backends, which share windows, cannot run here.

It forwards every call to xdg-desktop-portal-wlr on the same bus, and says
it shares windows too (AvailableSourceTypes 3). A window asked for is
answered with what xdg-desktop-portal-wlr's chooser picks, the output, as
a desktop whose user picks a window that fills the screen does: the
stream, its PipeWire node and the user's choice are all real.

It notes what each SelectSources asked for, one line per call
("types=2 persist=0"), in the file SELECT_SOURCES_LOG names, for the test
to check that a window was asked for and not kept.

Run on the session bus the portal uses (DBUS_SESSION_BUS_ADDRESS), after
xdg-desktop-portal-wlr is up."""

import os

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

NAME = "org.freedesktop.impl.portal.desktop.dropcasttestwindows"
WLR = "org.freedesktop.impl.portal.desktop.wlr"
IMPL = "org.freedesktop.impl.portal.ScreenCast"
SESSION = "org.freedesktop.impl.portal.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
PATH = "/org/freedesktop/portal/desktop"
MONITOR, WINDOW = 1, 2

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
wlr = dbus.Interface(bus.get_object(WLR, PATH, introspect=False), IMPL)
wlr_properties = dict(
    dbus.Interface(bus.get_object(WLR, PATH, introspect=False), PROPERTIES).GetAll(IMPL)
)
properties = dict(wlr_properties)
properties["AvailableSourceTypes"] = dbus.UInt32(MONITOR | WINDOW, variant_level=1)


class Session(dbus.service.Object):
    """The frontend closes a session here; xdg-desktop-portal-wlr holds it."""

    def __init__(self, path):
        super().__init__(bus, path)
        self.path = path

    @dbus.service.method(SESSION, in_signature="", out_signature="")
    def Close(self):
        try:
            bus.call_blocking(WLR, self.path, SESSION, "Close", "", ())
        except dbus.DBusException:
            pass
        self.remove_from_connection()


class ScreenCast(dbus.service.Object):
    @dbus.service.method(IMPL, in_signature="oosa{sv}", out_signature="ua{sv}")
    def CreateSession(self, handle, session, app_id, options):
        answer = wlr.CreateSession(handle, session, app_id, options)
        Session(session)
        return answer

    @dbus.service.method(IMPL, in_signature="oosa{sv}", out_signature="ua{sv}")
    def SelectSources(self, handle, session, app_id, options):
        options = dict(options)
        with open(os.environ["SELECT_SOURCES_LOG"], "a") as log:
            log.write(
                f"types={int(options.get('types', 0))} "
                f"persist={int(options.get('persist_mode', 0))}\n"
            )
        # A window is what the output's chooser picks.
        options["types"] = dbus.UInt32(MONITOR, variant_level=1)
        return wlr.SelectSources(handle, session, app_id, dbus.Dictionary(options, signature="sv"))

    @dbus.service.method(IMPL, in_signature="oossa{sv}", out_signature="ua{sv}")
    def Start(self, handle, session, app_id, parent, options):
        return wlr.Start(handle, session, app_id, parent, options)

    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        return properties[name]

    @dbus.service.method(PROPERTIES, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return dbus.Dictionary(properties if interface == IMPL else {}, signature="sv")


owned = dbus.service.BusName(NAME, bus)
ScreenCast(bus, PATH)
GLib.MainLoop().run()
