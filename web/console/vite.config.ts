import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

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
          return 'antd';
        },
      },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
