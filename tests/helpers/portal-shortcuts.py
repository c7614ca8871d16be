#!/usr/bin/python3
"""A stand-in for a desktop's GlobalShortcuts backend
(org.freedesktop.impl.portal.GlobalShortcuts), for tests: sway has none.

It binds every shortcut on the trigger the program prefers, as a desktop
whose user accepts them does. A test plays the user through two methods
of org.dropcast.Test on the same object:
- Press(id): the shortcut's keys are pressed (Activated, then Deactivated,
  for each session that bound it); answers how many sessions had it;
- Rebind(id, trigger): the user gives it other keys in the desktop's
  settings (ShortcutsChanged).

Run on the session bus the portal uses (DBUS_SESSION_BUS_ADDRESS)."""

import time

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

NAME = "org.freedesktop.impl.portal.desktop.dropcasttestkeys"
IMPL = "org.freedesktop.impl.portal.GlobalShortcuts"
PATH = "/org/freedesktop/portal/desktop"

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
owned = dbus.service.BusName(NAME, bus)

# session path -> {shortcut id: (description, trigger)}
bound = {}


def listing(shortcuts):
    return dbus.Array(
        [
            (sid, {"description": desc, "trigger_description": dbus.String(trigger)})
            for sid, (desc, trigger) in shortcuts.items()
        ],
        signature="(sa{sv})",
    )


class Session(dbus.service.Object):
    def __init__(self, path):
        super().__init__(bus, path)
        self.path = path

    @dbus.service.method("org.freedesktop.impl.portal.Session", in_signature="", out_signature="")
    def Close(self):
        bound.pop(self.path, None)
        self.remove_from_connection()


class Keys(dbus.service.Object):
    @dbus.service.method(IMPL, in_signature="oosa{sv}", out_signature="ua{sv}")
    def CreateSession(self, handle, session, app_id, options):
        bound[str(session)] = {}
        Session(str(session))
        return dbus.UInt32(0), dbus.Dictionary({"session_handle": session}, signature="sv")

    @dbus.service.method(IMPL, in_signature="ooa(sa{sv})sa{sv}", out_signature="ua{sv}")
    def BindShortcuts(self, handle, session, shortcuts, parent, options):
        mine = bound.setdefault(str(session), {})
        for sid, props in shortcuts:
            mine[str(sid)] = (
                str(props.get("description", "")),
                str(props.get("preferred_trigger", "")),
            )
        return dbus.UInt32(0), dbus.Dictionary({"shortcuts": listing(mine)}, signature="sv")

    @dbus.service.method(IMPL, in_signature="oo", out_signature="ua{sv}")
    def ListShortcuts(self, handle, session):
        mine = bound.get(str(session), {})
        return dbus.UInt32(0), dbus.Dictionary({"shortcuts": listing(mine)}, signature="sv")

    @dbus.service.signal(IMPL, signature="osta{sv}")
    def Activated(self, session, sid, timestamp, options):
        pass

    @dbus.service.signal(IMPL, signature="osta{sv}")
    def Deactivated(self, session, sid, timestamp, options):
        pass

    @dbus.service.signal(IMPL, signature="oa(sa{sv})")
    def ShortcutsChanged(self, session, shortcuts):
        pass

    @dbus.service.method("org.dropcast.Test", in_signature="s", out_signature="u")
    def Press(self, sid):
        pressed = 0
        for session, mine in list(bound.items()):
            if sid in mine:
                now = dbus.UInt64(int(time.monotonic() * 1000))
                none = dbus.Dictionary({}, signature="sv")
                self.Activated(dbus.ObjectPath(session), sid, now, none)
                self.Deactivated(dbus.ObjectPath(session), sid, now, none)
                pressed += 1
        return dbus.UInt32(pressed)

    @dbus.service.method("org.dropcast.Test", in_signature="ss", out_signature="u")
    def Rebind(self, sid, trigger):
        changed = 0
        for session, mine in list(bound.items()):
            if sid in mine:
                mine[sid] = (mine[sid][0], str(trigger))
                self.ShortcutsChanged(dbus.ObjectPath(session), listing(mine))
                changed += 1
        return dbus.UInt32(changed)


Keys(bus, PATH)
GLib.MainLoop().run()
