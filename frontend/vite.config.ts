/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The build is embedded in the Go binary (frontend/embed.go) and committed, so
// it must be small and reproducible: no source maps, content-hashed names,
// nothing time-dependent.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `SLUICE_URL=http://127.0.0.1:8080 npm run dev` against a running `sluice serve`.
    proxy: {
      '/api': process.env.SLUICE_URL ?? 'http://127.0.0.1:8080',
      '/healthz': process.env.SLUICE_URL ?? 'http://127.0.0.1:8080',
    },
  },
  test: {
    environment: 'happy-dom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
  },
})
