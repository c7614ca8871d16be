// How sizes and times read in the windows.

/** "just now", "5 min ago", "3 h ago", "2 d ago". */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** SI units, as the share page writes them: "1.4 MB". */
export function size(bytes: number | null | undefined): string {
  if (bytes == null) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The percentage of an upload, 0..100. */
export function percent(sent: number, total: number): number {
  if (total <= 0) return 100;
  return Math.min(100, Math.round((sent / total) * 100));
}
