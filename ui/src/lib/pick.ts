// The region picker's geometry. The window shows one monitor's frozen
// picture scaled to the window; the user's drag is in CSS pixels of the
// window and is turned into desktop pixels of the frozen picture (full
// HiDPI resolution), which is what the tray app cuts out.
import type { PickMonitor, PickWindow, Region } from "../bindings";

export type Point = { x: number; y: number };

/** Desktop pixels per CSS pixel, across and down. */
export function scaleOf(m: PickMonitor, viewWidth: number, viewHeight: number): Point {
  return { x: m.width / viewWidth, y: m.height / viewHeight };
}

/** A window point (CSS px) as a desktop point. */
export function toDesktop(m: PickMonitor, p: Point, view: { width: number; height: number }): Point {
  const s = scaleOf(m, view.width, view.height);
  return {
    x: Math.round(m.x + Math.min(Math.max(p.x, 0), view.width) * s.x),
    y: Math.round(m.y + Math.min(Math.max(p.y, 0), view.height) * s.y),
  };
}

/** The region between two desktop points, whichever way the drag went. */
export function regionBetween(a: Point, b: Point): Region {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.abs(a.x - b.x), height: Math.abs(a.y - b.y) };
}

/** The monitor as a region (Enter). */
export function wholeMonitor(m: PickMonitor): Region {
  return { x: m.x, y: m.y, width: m.width, height: m.height };
}

/** The front-most window under a desktop point, clipped to the monitor. */
export function windowAt(windows: PickWindow[], m: PickMonitor, p: Point): Region | null {
  for (const w of windows) {
    if (p.x >= w.x && p.x < w.x + w.width && p.y >= w.y && p.y < w.y + w.height) {
      const x = Math.max(w.x, m.x);
      const y = Math.max(w.y, m.y);
      const right = Math.min(w.x + w.width, m.x + m.width);
      const bottom = Math.min(w.y + w.height, m.y + m.height);
      if (right > x && bottom > y) return { x, y, width: right - x, height: bottom - y };
    }
  }
  return null;
}

/** A drag shorter than this (CSS px) is a click. */
export const CLICK_SLOP = 4;
