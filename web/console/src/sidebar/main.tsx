import React from 'react';
import ReactDOM from 'react-dom/client';
import '../i18n';
import Sidebar from './Sidebar';
import './sidebar.css';

// The staff sidebar (聊天工具栏): a page of its own, built with the
// console (vite.config.ts: a second input) and served at /sidebar/.
ReactDOM.createRoot(document.getElementById('root')!).render(
  <React.StrictMode>
    <Sidebar />
  </React.StrictMode>,
);
