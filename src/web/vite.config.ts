// Vite builds the web portal: root src/web, output build/web, served by the node at `/`.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

const root = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  // No dev-time conveniences end up in the bundle: the portal runs under `script-src 'self'`.
  build: {
    outDir: fileURLToPath(new URL('../../build/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
  },
  logLevel: 'warn',
})
