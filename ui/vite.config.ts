import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// One page for every window; the window is picked by the URL's hash
// (#settings, #history, #drop, #pick/0). Tauri serves `dist/` from inside
// the dropcast-ui binary.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: { outDir: "dist", target: "es2021", sourcemap: false },
});
