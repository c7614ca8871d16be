import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { playwright } from "@vitest/browser-playwright";

// UI tests run in Debian's chromium (no browser download), headless, with
// the Tauri IPC mocked (@tauri-apps/api/mocks).
export default defineConfig({
  plugins: [svelte()],
  resolve: { conditions: ["browser"] },
  // Screenshots go to ../artifacts/ui, outside the package.
  server: { fs: { allow: [".."] } },
  test: {
    include: ["tests/**/*.test.ts"],
    browser: {
      enabled: true,
      headless: true,
      provider: playwright({
        launchOptions: {
          executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
          args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        },
      }),
      instances: [{ browser: "chromium" }],
      viewport: { width: 800, height: 600 },
    },
  },
});
