//! Desktop notifications after a capture (the link, or what failed), with
//! the freedesktop "screen-capture" sound unless turned off. Without a
//! notification server the app says so on stderr and carries on.

use dropcast_client::settings::After;
use notify_rust::Notification;

/// Shows a notification with the freedesktop sound `sound` (unless sounds
/// are off). On Windows and macOS, which have no freedesktop sounds, the
/// system's default notification sound stands for every one.
pub fn show(after: &After, summary: &str, body: &str, sound: &str) {
    let mut n = Notification::new();
    n.appname("Dropcast").summary(summary).body(body);
    // Sent from a task: a slow or missing notification server never
    // holds up the next capture.
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use notify_rust::Hint;
        if after.sound {
            n.hint(Hint::SoundName(sound.into()));
        } else {
            n.hint(Hint::SuppressSound(true));
        }
        tokio::spawn(async move {
            if let Err(e) = n.show_async().await {
                eprintln!("dropcast-app: no notification ({e})");
            }
        });
    }
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let _ = sound;
        if after.sound {
            n.sound_name("Default");
        }
        tokio::task::spawn_blocking(move || {
            if let Err(e) = n.show() {
                eprintln!("dropcast-app: no notification ({e})");
            }
        });
    }
}

/// The capture is shared: its link, and whether it is on the clipboard.
pub fn shared(after: &After, url: &str, copied: bool) {
    let summary = if copied {
        "Link copied"
    } else {
        "Capture shared"
    };
    show(after, summary, url, "screen-capture");
}

/// Something failed; the message says what to do. Failed uploads stay in
/// History with Resume.
pub fn failed(after: &After, message: &str) {
    show(after, "Dropcast: not shared", message, "dialog-error");
}
