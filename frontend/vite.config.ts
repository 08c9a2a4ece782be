import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The build goes straight into the Go package that embeds it. The folder keeps
// a committed .gitkeep, so it is not emptied; `make build` removes old assets.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../api/web/dist",
    emptyOutDir: false,
  },
  server: {
    // `npm run dev` talks to a server started with `make run`.
    proxy: { "/api": "http://localhost:8080", "/hooks": "http://localhost:8080" },
  },
  test: {
    environment: "jsdom",
    // e2e/ holds the browser tests, run by node --test (npm run e2e).
    include: ["src/**/*.test.{ts,tsx}"],
    // Stubs for what jsdom lacks and CodeMirror measures.
    setupFiles: ["src/test-setup.ts"],
  },
});
