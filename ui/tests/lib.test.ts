import { describe, expect, it } from "vitest";
import { explain, needsSignIn } from "../src/lib/errors";
import { fromPress } from "../src/lib/hotkeys";
import { age, percent, size } from "../src/lib/format";
import { regionBetween, toDesktop, wholeMonitor, windowAt } from "../src/lib/pick";

const press = (code: string, key: string, mods: Partial<KeyboardEvent> = {}) => ({
  code, key, ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...mods,
});

describe("error codes", () => {
  it("say what to do, then the details", () => {
    expect(explain({ code: "unreachable", message: "connection refused" })).toBe(
      "The server cannot be reached: is it running, and is its URL right? (connection refused)",
    );
    expect(explain({ code: "sign_in", message: "" })).toBe("Sign in again in Settings.");
    expect(needsSignIn({ code: "sign_in", message: "x" })).toBe(true);
    expect(needsSignIn({ code: "failed", message: "x" })).toBe(false);
  });
});

describe("hotkey fields", () => {
  it("write a press as modifiers and one key", () => {
    expect(fromPress(press("Digit4", "$", { ctrlKey: true, shiftKey: true }))).toEqual({ keys: "Ctrl+Shift+4" });
    expect(fromPress(press("KeyU", "U", { ctrlKey: true, altKey: true }))).toEqual({ keys: "Ctrl+Alt+U" });
    expect(fromPress(press("F9", "F9"))).toEqual({ keys: "F9" });
  });
  it("wait while only modifiers are held, clear on Backspace, refuse a bare key", () => {
    expect(fromPress(press("ShiftLeft", "Shift", { shiftKey: true })).keys).toBeNull();
    expect(fromPress(press("Backspace", "Backspace"))).toEqual({ keys: "" });
    expect(fromPress(press("KeyA", "a")).error).toContain("add Ctrl");
  });
});

describe("sizes and ages", () => {
  it("read like the share page writes them", () => {
    expect(size(1_381_863)).toBe("1.4 MB");
    expect(size(999)).toBe("999 B");
    expect(age(5 * 60_000)).toBe("5 min ago");
    expect(percent(50, 200)).toBe(25);
    expect(percent(0, 0)).toBe(100);
  });
});

describe("region picker geometry", () => {
  const hidpi = { x: 1920, y: 0, width: 2880, height: 1800, scale_factor: 2, image: "monitor-2.png" };
  it("turns window pixels into desktop pixels at full resolution", () => {
    const view = { width: 1440, height: 900 };
    expect(toDesktop(hidpi, { x: 100, y: 50 }, view)).toEqual({ x: 1920 + 200, y: 100 });
    expect(toDesktop(hidpi, { x: -5, y: 5000 }, view)).toEqual({ x: 1920, y: 1800 });
  });
  it("selects whichever way the drag goes", () => {
    expect(regionBetween({ x: 300, y: 250 }, { x: 100, y: 100 })).toEqual({ x: 100, y: 100, width: 200, height: 150 });
    expect(wholeMonitor(hidpi)).toEqual({ x: 1920, y: 0, width: 2880, height: 1800 });
  });
  it("picks the front-most window under the pointer, clipped to the monitor", () => {
    const windows = [
      { x: 2000, y: 100, width: 400, height: 300, title: "front" },
      { x: 1800, y: 0, width: 1200, height: 900, title: "behind" },
    ];
    expect(windowAt(windows, hidpi, { x: 2100, y: 200 })).toEqual({ x: 2000, y: 100, width: 400, height: 300 });
    expect(windowAt(windows, hidpi, { x: 1950, y: 10 })).toEqual({ x: 1920, y: 0, width: 1080, height: 900 });
    expect(windowAt(windows, hidpi, { x: 4000, y: 1000 })).toBeNull();
  });
});
