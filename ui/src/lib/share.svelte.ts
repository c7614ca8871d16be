// Sharing dropped files from the drop window and the History window:
// calls share_files, follows its progress events, keeps the outcome.
import { commands, events } from "../bindings";
import type { SharedFile } from "../bindings";
import { explain } from "./errors";

export type Upload = { path: string; name: string; sent: number; total: number };

export class Sharing {
  uploads = $state<Record<string, Upload>>({});
  results = $state<SharedFile[]>([]);
  error = $state("");
  busy = $state(false);

  async listen(): Promise<() => void> {
    return events.shareProgress.listen((e) => {
      const p = e.payload;
      this.uploads = { ...this.uploads, [p.path]: { ...p } };
    });
  }

  async share(paths: string[]) {
    if (paths.length === 0) return;
    this.busy = true;
    this.error = "";
    for (const path of paths) {
      const name = path.split(/[\\/]/).pop() ?? path;
      this.uploads = { ...this.uploads, [path]: { path, name, sent: 0, total: 0 } };
    }
    const r = await commands.shareFiles(paths);
    this.busy = false;
    if (r.status === "ok") this.results = [...r.data, ...this.results];
    else this.error = explain(r.error);
  }

  /** "Copied 2 links" or what failed. */
  summary(): string {
    const ok = this.results.filter((r) => r.url).length;
    const failed = this.results.length - ok;
    const parts = [];
    if (ok) parts.push(`Copied ${ok} link${ok === 1 ? "" : "s"} to the clipboard`);
    if (failed) parts.push(`${failed} failed (they stay in History to resume)`);
    return parts.join("; ");
  }
}
