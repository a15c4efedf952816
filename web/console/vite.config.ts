import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { resolve } from 'node:path';

// The build goes to web/dist, which is committed and embedded in the Go
// binary (package web), so `go build` never needs Node.
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2020',
    chunkSizeWarningLimit: 1300,
    rollupOptions: {
      // Two pages, one build: the console (index.html) and the staff
      // sidebar WeCom opens beside a chat (sidebar.html, served at
      // /sidebar/), which shares React, i18next and the catalogs but not
      // Ant Design or ECharts.
      input: { index: resolve(__dirname, 'index.html'), sidebar: resolve(__dirname, 'sidebar.html') },
      output: {
        // Vendor code in long-lived chunks: a console change does not
        // invalidate the browser's copy of React, Ant Design or ECharts;
        // ECharts loads only with the first chart.
        manualChunks(id) {
          if (!id.includes('node_modules')) return undefined;
          if (/node_modules\/(echarts|zrender)\//.test(id)) return 'echarts';
          // React Flow and its d3 pieces load only with the journey canvas.
          if (/node_modules\/(@xyflow|d3-[a-z]+|classcat|zustand)\//.test(id)) return 'xyflow';
          if (/node_modules\/(react|react-dom|react-router|react-router-dom|scheduler|@remix-run)\//.test(id)) return 'react';
          if (/node_modules\/(i18next|react-i18next)\//.test(id)) return 'i18n';
          return 'antd';
        },
      },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
