//! A mouse a test moves and clicks on a [`Sway`] session.
//!
//! Headless sway has no input devices, so its seat has no pointer and
//! clients get no pointer events at all (`swaymsg seat … cursor` moves a
//! cursor nobody hears). A virtual pointer (the wlroots protocol
//! `zwlr_virtual_pointer_v1`, which sway offers) is a real device on the
//! seat for as long as it lives: the compositor routes its motion and
//! buttons to the surface under it, as it would a USB mouse's.

use super::Sway;
use std::os::unix::net::UnixStream;
use std::time::Instant;
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_pointer, wl_registry};
use wayland_client::{delegate_noop, Connection, Dispatch, EventQueue, QueueHandle};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
};

/// `BTN_LEFT` from linux/input-event-codes.h.
const BUTTON_LEFT: u32 = 0x110;

pub struct Pointer {
    _conn: Connection,
    queue: EventQueue<State>,
    pointer: ZwlrVirtualPointerV1,
    /// The outputs' layout when it was made, in logical units: absolute
    /// motion is a fraction of it, so make it after adding outputs.
    layout: (u32, u32),
    since: Instant,
}

struct State;

impl Pointer {
    /// Moves to `x`,`y` in the layout's logical units.
    pub fn move_to(&mut self, x: u32, y: u32) {
        self.pointer
            .motion_absolute(self.time(), x, y, self.layout.0, self.layout.1);
        self.pointer.frame();
        self.sync();
    }

    pub fn press(&mut self) {
        self.button(wl_pointer::ButtonState::Pressed);
    }

    pub fn release(&mut self) {
        self.button(wl_pointer::ButtonState::Released);
    }

    /// Presses at `from`, moves through the middle to `to`, and releases
    /// there, with pauses a person's drag has (a drag that jumps may be
    /// taken for a click). A client may not yet have taken in a pointer
    /// that just entered its surface, and loses a press then: move there
    /// first and wait until the client shows it has seen the pointer.
    pub fn drag(&mut self, from: (u32, u32), to: (u32, u32)) {
        let pause = || std::thread::sleep(std::time::Duration::from_millis(100));
        self.move_to(from.0, from.1);
        pause();
        self.press();
        pause();
        self.move_to((from.0 + to.0) / 2, (from.1 + to.1) / 2);
        pause();
        self.move_to(to.0, to.1);
        pause();
        self.release();
    }

    fn button(&mut self, state: wl_pointer::ButtonState) {
        self.pointer.button(self.time(), BUTTON_LEFT, state);
        self.pointer.frame();
        self.sync();
    }

    fn time(&self) -> u32 {
        u32::try_from(self.since.elapsed().as_millis()).unwrap_or(u32::MAX)
    }

    /// Returns once the compositor has handled what was sent.
    fn sync(&mut self) {
        self.queue
            .roundtrip(&mut State)
            .expect("the compositor answers");
    }
}

impl Sway {
    /// A virtual mouse on this session's seat; make it after adding
    /// outputs.
    pub fn pointer(&self) -> Pointer {
        let socket = UnixStream::connect(self.dir.path().join(&self.display))
            .expect("sway's socket accepts clients");
        let conn = Connection::from_socket(socket).expect("a Wayland connection");
        let (globals, queue) =
            registry_queue_init::<State>(&conn).expect("the compositor lists its globals");
        let qh: QueueHandle<State> = queue.handle();
        let manager = globals
            .bind::<ZwlrVirtualPointerManagerV1, _, _>(&qh, 1..=2, ())
            .expect("sway offers zwlr_virtual_pointer_manager_v1");
        let pointer = manager.create_virtual_pointer(None, &qh, ());
        let mut made = Pointer {
            _conn: conn,
            queue,
            pointer,
            layout: self.layout(),
            since: Instant::now(),
        };
        made.sync();
        made
    }

    /// The width and height of the box around every output, in logical
    /// units (outputs start at 0,0 here).
    fn layout(&self) -> (u32, u32) {
        let out = self
            .command("swaymsg")
            .args(["-r", "-t", "get_outputs"])
            .output()
            .unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let edge = |o: &serde_json::Value, at: &str, size: &str| {
            o["rect"][at].as_u64().unwrap() + o["rect"][size].as_u64().unwrap()
        };
        let outputs = list.as_array().unwrap();
        let width = outputs.iter().map(|o| edge(o, "x", "width")).max();
        let height = outputs.iter().map(|o| edge(o, "y", "height")).max();
        (
            u32::try_from(width.unwrap()).unwrap(),
            u32::try_from(height.unwrap()).unwrap(),
        )
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

delegate_noop!(State: ZwlrVirtualPointerManagerV1);
delegate_noop!(State: ZwlrVirtualPointerV1);
