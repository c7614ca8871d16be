// Each window, built by Vite and run in headless chromium, with the Tauri
// IPC mocked: what the user sees and which commands it sends.
import { afterEach, describe, expect, it } from "vitest";
import { page } from "vitest/browser";
import { flushSync, mount, unmount } from "svelte";
import { clearMocks, mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import Settings from "../src/windows/Settings.svelte";
import History from "../src/windows/History.svelte";
import Drop from "../src/windows/Drop.svelte";
import Pick from "../src/windows/Pick.svelte";
import "../src/app.css";

type Call = { cmd: string; args: Record<string, unknown> };
let mounted: ReturnType<typeof mount> | null = null;

/** Mounts a window with `handler` answering its commands; returns the calls. */
function open(component: any, label: string, handler: (cmd: string, args: any) => unknown, props = {}) {
  const calls: Call[] = [];
  mockWindows(label);
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    return handler(cmd, args);
  }, { shouldMockEvents: true });
  document.body.innerHTML = "";
  const target = document.createElement("div");
  document.body.append(target);
  mounted = mount(component, { target, props });
  return calls;
}

async function until<T>(f: () => T | null | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    flushSync();
    const v = f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}; page: ${document.body.innerText}`);
}

const text = () => document.body.innerText;
const $ = <T extends Element = HTMLElement>(s: string) => document.querySelector<T>(s);

afterEach(() => {
  if (mounted) unmount(mounted);
  mounted = null;
  clearMocks();
});

const prefs = {
  format: "png", jpegQuality: 90, downscale: false, cursor: false, copy: "link",
  openInBrowser: false, saveFolder: null, notify: true, sound: true, startAtLogin: false,
  hotkeys: { screen: "Ctrl+Shift+3", area: "Ctrl+Shift+4", window: "Ctrl+Shift+W", record: "Ctrl+Shift+5", upload: "Ctrl+Shift+U" },
  recording: { fps: 30, max_minutes: 60, link_at_start: true, cursor: true, audio: false, system_audio: false },
};

describe("settings window", () => {
  it("signs in with the server, user and password typed, then shows who is signed in", async () => {
    let signedIn = false;
    const calls = open(Settings, "settings", (cmd) => {
      switch (cmd) {
        case "account":
          return signedIn
            ? { server: "http://dc.test", user: "ada", problem: null }
            : { server: null, user: null, problem: { code: "sign_in", message: "not signed in" } };
        case "preferences": return structuredClone(prefs);
        case "hotkey_status": return [];
        case "sign_in": signedIn = true; return "ada";
      }
    });
    const server = await until(() => $<HTMLInputElement>("input[name=server]"), "the sign-in form");
    server.value = "http://dc.test";
    server.dispatchEvent(new Event("input", { bubbles: true }));
    const user = $<HTMLInputElement>("input[name=user]")!;
    user.value = "ada";
    user.dispatchEvent(new Event("input", { bubbles: true }));
    const password = $<HTMLInputElement>("input[name=password]")!;
    password.value = "correct horse";
    password.dispatchEvent(new Event("input", { bubbles: true }));
    $<HTMLButtonElement>("button[type=submit]")!.click();
    await until(() => $("[data-testid=signed-in]"), "signed in");
    expect(calls.find((c) => c.cmd === "sign_in")?.args).toEqual({ server: "http://dc.test", user: "ada", password: "correct horse" });
    expect(text()).toContain("Signed in to http://dc.test as ada");
    await page.screenshot({ path: "../../artifacts/ui/settings.png" });
  });

  it("says what to do when the server cannot be reached", async () => {
    open(Settings, "settings", (cmd) => {
      if (cmd === "account") return { server: null, user: null, problem: null };
      if (cmd === "preferences") return structuredClone(prefs);
      if (cmd === "hotkey_status") return [];
      if (cmd === "sign_in") throw { code: "unreachable", message: "connection refused" };
    });
    (await until(() => $<HTMLInputElement>("input[name=user]"), "form")).value = "ada";
    $<HTMLInputElement>("input[name=user]")!.dispatchEvent(new Event("input", { bubbles: true }));
    $<HTMLInputElement>("input[name=password]")!.value = "x";
    $<HTMLInputElement>("input[name=password]")!.dispatchEvent(new Event("input", { bubbles: true }));
    $<HTMLButtonElement>("button[type=submit]")!.click();
    const alert = await until(() => $("[role=alert]"), "the error");
    expect(alert.textContent).toContain("The server cannot be reached");
    expect(alert.textContent).toContain("connection refused");
  });

  it("records a pressed hotkey, shows a conflict, and saves what was chosen", async () => {
    let conflict = true;
    const calls = open(Settings, "settings", (cmd, args) => {
      switch (cmd) {
        case "account": return { server: "http://dc.test", user: "ada", problem: null };
        case "preferences": return structuredClone(prefs);
        case "hotkey_status":
          return [{ action: "upload", keys: "Ctrl+Shift+U", ok: false, error: "Ctrl+Shift+U is taken by another program; choose other keys in Settings" }];
        case "check_hotkeys":
          return conflict && args.hotkeys.area === "Ctrl+Shift+3"
            ? [{ action: "area", message: "Ctrl+Shift+3 is already the hotkey for screen" }] : [];
        case "save_preferences": return null;
      }
    });
    const area = await until(() => $<HTMLInputElement>("input[name=hotkey-area]"), "hotkey fields");
    // The tray app said it could not have Ctrl+Shift+U.
    expect(await until(() => $("[data-testid=problem-upload]"), "the taken hotkey")).toBeTruthy();
    expect(text()).toContain("taken by another program");
    area.dispatchEvent(new KeyboardEvent("keydown", { code: "Digit3", key: "#", ctrlKey: true, shiftKey: true, bubbles: true }));
    const problem = await until(() => $("[data-testid=problem-area]"), "the conflict");
    expect(problem.textContent).toContain("already the hotkey for screen");
    $<HTMLButtonElement>("form button[type=submit]")!.click();
    await until(() => text().includes("Fix the hotkeys first"), "save refused");
    expect(calls.some((c) => c.cmd === "save_preferences")).toBe(false);

    conflict = false;
    area.dispatchEvent(new KeyboardEvent("keydown", { code: "KeyR", key: "R", ctrlKey: true, altKey: true, bubbles: true }));
    const folder = $<HTMLInputElement>("input[name=folder]")!;
    folder.value = "/home/ada/Pictures";
    folder.dispatchEvent(new Event("input", { bubbles: true }));
    $<HTMLInputElement>("input[name=autostart]")!.click();
    const maxMinutes = $<HTMLInputElement>("input[name=max-minutes]")!;
    maxMinutes.value = "5";
    maxMinutes.dispatchEvent(new Event("input", { bubbles: true }));
    const linkAt = $<HTMLSelectElement>("select[name=link-at]")!;
    linkAt.selectedIndex = 1;
    linkAt.dispatchEvent(new Event("change", { bubbles: true }));
    $<HTMLInputElement>("input[name=audio]")!.click();
    $<HTMLInputElement>("input[name=system-audio]")!.click();
    $<HTMLButtonElement>("form button[type=submit]")!.click();
    await until(() => text().includes("Saved."), "saved");
    const saved = calls.find((c) => c.cmd === "save_preferences")!.args.preferences as typeof prefs;
    expect(saved.hotkeys.area).toBe("Ctrl+Alt+R");
    expect(saved.saveFolder).toBe("/home/ada/Pictures");
    expect(saved.startAtLogin).toBe(true);
    expect(saved.recording).toEqual({
      fps: 30,
      max_minutes: 5,
      link_at_start: false,
      cursor: true,
      audio: true,
      system_audio: true,
    });
  });

  it("shows the keys the desktop chose for a shortcut, and follows a change", async () => {
    let trigger = "CTRL+SHIFT+3";
    open(Settings, "settings", (cmd) => {
      switch (cmd) {
        case "account": return { server: "http://dc.test", user: "ada", problem: null };
        case "preferences": return structuredClone(prefs);
        case "hotkey_status":
          return [{ action: "screen", keys: "Ctrl+Shift+3", ok: true, error: null, desktop: trigger }];
      }
    });
    const shown = await until(() => $("[data-testid=desktop-screen]"), "the desktop's keys");
    expect(shown.textContent).toContain("CTRL+SHIFT+3");
    expect(shown.textContent).toContain("desktop's keyboard settings");
    expect($("[data-testid=desktop-area]")).toBeNull();
    // The user rebinds it in the desktop, and the tray app rewrites the
    // statuses: the window reads them again within a few seconds.
    trigger = "LOGO+s";
    let followed = false;
    for (let i = 0; i < 60 && !followed; i++) {
      await new Promise((r) => setTimeout(r, 100));
      flushSync();
      followed = $("[data-testid=desktop-screen]")?.textContent?.includes("LOGO+s") ?? false;
    }
    expect(followed).toBe(true);
  });
});

describe("settings window, webhook", () => {
  it("sets a webhook, shows its secret once, and removes it", async () => {
    let hook: { url: string; slack: boolean; secret: string | null } | null = null;
    const calls = open(Settings, "settings", (cmd, args) => {
      switch (cmd) {
        case "account": return { server: "http://dc.test", user: "ada", problem: null };
        case "preferences": return structuredClone(prefs);
        case "hotkey_status": return [];
        case "webhook": return hook && { ...hook, secret: null };
        case "set_webhook":
          hook = { url: args.url, slack: args.slack, secret: "whsec_abc" };
          return hook;
        case "remove_webhook": hook = null; return null;
      }
    });
    const url = await until(() => $<HTMLInputElement>("input[name=webhook-url]"), "the webhook form");
    expect($("[data-testid=webhook-set]")).toBeNull();
    url.value = "https://hooks.slack.com/services/T/B/x";
    url.dispatchEvent(new Event("input", { bubbles: true }));
    $<HTMLInputElement>("input[name=webhook-slack]")!.click();
    $<HTMLButtonElement>("section[aria-label=Webhook] button[type=submit]")!.click();
    const secret = await until(() => $("[data-testid=webhook-secret]"), "the secret");
    expect(secret.textContent).toContain("whsec_abc");
    expect(calls.find((c) => c.cmd === "set_webhook")?.args).toEqual({ url: "https://hooks.slack.com/services/T/B/x", slack: true });
    const remove = await until(
      () => [...document.querySelectorAll<HTMLButtonElement>("section[aria-label=Webhook] button")].find((b) => b.textContent === "Remove"),
      "the remove button",
    );
    remove.click();
    await until(() => calls.some((c) => c.cmd === "remove_webhook") && text().includes("Set webhook"), "removed");
    expect($("[data-testid=webhook-secret]")).toBeNull();
  });
});

const now = Date.now();
const drops = [
  { id: "aaaa1111", name: "screenshot-1.png", url: "http://dc.test/aaaa1111", status: "complete", size: 1_381_863, error: null, createdAt: now - 300_000, hasThumbnail: false },
  { id: "bbbb2222", name: "notes.txt", url: "http://dc.test/bbbb2222", status: "failed", size: 2_000, error: "the server cannot be reached", createdAt: now - 7_200_000, hasThumbnail: false },
];

describe("history window", () => {
  it("lists drops, finds them by name, copies, retries and deletes", async () => {
    let list = structuredClone(drops);
    const calls = open(History, "history", (cmd, args) => {
      switch (cmd) {
        case "history": return list;
        case "copy_links": return null;
        case "resume_uploads": list = list.map((d) => ({ ...d, status: "complete", error: null })); return 1;
        case "delete_drop": list = list.filter((d) => d.id !== args.id); return null;
      }
    });
    await until(() => document.querySelectorAll("[data-testid=drop]").length === 2, "two drops");
    expect(text()).toContain("5 min ago · 1.4 MB");
    expect($("[data-status=failed]")!.textContent).toContain("the server cannot be reached");
    await page.screenshot({ path: "../../artifacts/ui/history.png" });

    const search = $<HTMLInputElement>("input[name=search]")!;
    search.value = "notes";
    search.dispatchEvent(new Event("input", { bubbles: true }));
    await until(() => document.querySelectorAll("[data-testid=drop]").length === 1, "search");

    const buttons = () => [...document.querySelectorAll<HTMLButtonElement>("[data-testid=drop] button")];
    buttons().find((b) => b.textContent === "Resume")!.click();
    await until(() => $("[data-status=complete]"), "retried");
    buttons().find((b) => b.textContent === "Copy")!.click();
    await until(() => text().includes("Link copied."), "copied");
    expect(calls.find((c) => c.cmd === "copy_links")!.args).toEqual({ links: ["http://dc.test/bbbb2222"] });
    buttons().find((b) => b.textContent === "Delete")!.click();
    await until(() => $("[data-testid=empty]"), "deleted");
    expect(calls.find((c) => c.cmd === "delete_drop")!.args).toEqual({ id: "bbbb2222" });
  });
});

describe("drop window", () => {
  it("shares dropped files with progress and says the links are copied", async () => {
    let release: () => void = () => {};
    const calls = open(Drop, "drop", (cmd, args) => {
      if (cmd === "share_files") {
        return new Promise((resolve) => {
          release = () => resolve(args.paths.map((p: string, i: number) => ({ path: p, url: `http://dc.test/d${i}`, error: null })));
        });
      }
    });
    await until(() => $("[data-testid=drop-zone]"), "the drop zone");
    await new Promise((r) => setTimeout(r, 50)); // listeners registered
    await emit("tauri://drag-drop", { paths: ["/tmp/a.png", "/tmp/b.mp4"], position: { x: 10, y: 10 } });
    await until(() => calls.find((c) => c.cmd === "share_files"), "share_files");
    expect(calls.find((c) => c.cmd === "share_files")!.args).toEqual({ paths: ["/tmp/a.png", "/tmp/b.mp4"] });
    await emit("share-progress", { path: "/tmp/a.png", name: "a.png", sent: 500, total: 1000 });
    await until(() => text().includes("50%"), "progress");
    await page.screenshot({ path: "../../artifacts/ui/drop.png" });
    release();
    await until(() => text().includes("Copied 2 links to the clipboard"), "the summary");
    expect(document.querySelectorAll("[data-testid=link]").length).toBe(2);
  });

  it("shares the files chosen in the file chooser", async () => {
    const calls = open(Drop, "drop", (cmd, args) => {
      if (cmd === "choose_files") return ["/home/ada/report.pdf"];
      if (cmd === "share_files") return args.paths.map((p: string) => ({ path: p, url: "http://dc.test/r1", error: null }));
    });
    const choose = await until(
      () => [...document.querySelectorAll("button")].find((b) => b.textContent === "Choose files..."),
      "the Choose files button",
    );
    choose.click();
    await until(() => text().includes("Copied 1 link to the clipboard"), "the summary");
    expect(calls.find((c) => c.cmd === "share_files")!.args).toEqual({ paths: ["/home/ada/report.pdf"] });
  });
});

describe("region picker", () => {
  const setup = {
    monitors: [{ x: 0, y: 0, width: 1600, height: 1200, scale_factor: 2, image: "monitor-1.png" }],
    windows: [{ x: 200, y: 200, width: 400, height: 300, title: "feh" }],
  };

  function picker() {
    return open(Pick, "pick-0", (cmd) => {
      if (cmd === "pick_setup") return setup;
      if (cmd === "pick_done") return null;
    }, { index: 0 });
  }

  const at = (type: string, x: number, y: number) =>
    $(".picker")!.dispatchEvent(new PointerEvent(type, { clientX: x, clientY: y, button: 0, bubbles: true }));

  it("turns a drag into a region of the frozen picture in full-resolution pixels", async () => {
    const calls = picker();
    await until(() => $("[data-testid=frozen]"), "the frozen picture");
    // The window is 800x600 CSS px over a 1600x1200 monitor.
    at("pointerdown", 50, 40);
    at("pointermove", 150, 100);
    at("pointermove", 250, 140);
    const size = await until(() => $("[data-testid=size]"), "the size");
    expect(size.textContent!.trim()).toBe("400 × 200");
    await page.screenshot({ path: "../../artifacts/ui/pick.png" });
    at("pointerup", 250, 140);
    const done = await until(() => calls.find((c) => c.cmd === "pick_done"), "pick_done");
    expect(done.args).toEqual({ region: { x: 100, y: 80, width: 400, height: 200 } });
  });

  it("takes the window under a click, the monitor on Enter, nothing on Esc", async () => {
    let calls = picker();
    await until(() => $("[data-testid=frozen]"), "the frozen picture");
    at("pointermove", 150, 150);
    at("pointerdown", 150, 150);
    at("pointerup", 151, 150);
    let done = await until(() => calls.find((c) => c.cmd === "pick_done"), "pick_done");
    expect(done.args).toEqual({ region: { x: 200, y: 200, width: 400, height: 300 } });
    unmount(mounted!);
    mounted = null;

    calls = picker();
    await until(() => $("[data-testid=frozen]"), "the frozen picture");
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    done = await until(() => calls.find((c) => c.cmd === "pick_done"), "pick_done");
    expect(done.args).toEqual({ region: { x: 0, y: 0, width: 1600, height: 1200 } });
    unmount(mounted!);
    mounted = null;

    calls = picker();
    await until(() => $("[data-testid=frozen]"), "the frozen picture");
    window.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }));
    done = await until(() => calls.find((c) => c.cmd === "pick_done"), "pick_done");
    expect(done.args).toEqual({ region: null });
  });
});
