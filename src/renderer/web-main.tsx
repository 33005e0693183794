import { createWebBridge } from './web-bridge';

window.api = createWebBridge();
await import('./main');
