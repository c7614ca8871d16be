// Turning a key press into a hotkey string the Rust side parses
// ("Ctrl+Shift+4"), for the settings window's hotkey fields.

const modifierKeys = new Set(["Control", "Shift", "Alt", "Meta", "Super", "Hyper", "OS"]);

/** The key part of a hotkey from a KeyboardEvent.code ("KeyU" -> "U"). */
function keyName(code: string): string | null {
  let m = /^Key([A-Z])$/.exec(code);
  if (m) return m[1];
  m = /^Digit([0-9])$/.exec(code);
  if (m) return m[1];
  if (/^F([1-9]|1[0-9]|2[0-4])$/.test(code)) return code;
  const named: Record<string, string> = {
    Space: "Space", Enter: "Enter", Tab: "Tab", Backspace: "Backspace",
    Delete: "Delete", Insert: "Insert", Home: "Home", End: "End",
    PageUp: "PageUp", PageDown: "PageDown", ArrowUp: "ArrowUp",
    ArrowDown: "ArrowDown", ArrowLeft: "ArrowLeft", ArrowRight: "ArrowRight",
    PrintScreen: "PrintScreen", Minus: "Minus", Equal: "Equal",
    Comma: "Comma", Period: "Period", Slash: "Slash", Semicolon: "Semicolon",
    Quote: "Quote", Backquote: "Backquote", BracketLeft: "BracketLeft",
    BracketRight: "BracketRight", Backslash: "Backslash",
  };
  return named[code] ?? null;
}

export type Press = Pick<KeyboardEvent, "code" | "key" | "ctrlKey" | "shiftKey" | "altKey" | "metaKey">;

/**
 * The hotkey for a press: "Ctrl+Shift+4". `null` while only modifiers are
 * held, "" for Backspace/Delete alone (clears the hotkey), and an error for
 * a key without modifiers (it would take the key away from every program).
 */
export function fromPress(e: Press): { keys: string | null; error?: string } {
  if (modifierKeys.has(e.key)) return { keys: null };
  const mods: string[] = [];
  if (e.ctrlKey) mods.push("Ctrl");
  if (e.altKey) mods.push("Alt");
  if (e.shiftKey) mods.push("Shift");
  if (e.metaKey) mods.push("Super");
  if (mods.length === 0 && (e.code === "Backspace" || e.code === "Delete")) return { keys: "" };
  const key = keyName(e.code);
  if (!key) return { keys: null, error: `${e.key} cannot be part of a hotkey` };
  if (mods.length === 0 && !/^F\d+$/.test(key) && key !== "PrintScreen") {
    return { keys: null, error: "add Ctrl, Alt, Shift or Super to the key" };
  }
  return { keys: [...mods, key].join("+") };
}
