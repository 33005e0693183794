/**
 * Electron main process: windows, menus, dialogs, the cell:// protocol, and a thin relay to the engine utility
 * process. No domain logic lives here.
 */
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  protocol,
  session,
  utilityProcess,
  Menu,
  type UtilityProcess,
} from 'electron';
import path from 'node:path';
import fs from 'node:fs';
import type { CallEnvelope, HostReply, HostRequest, HostRequestBody } from './relay-protocol';

protocol.registerSchemesAsPrivileged([
  { scheme: 'cell', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' cell: data: blob:; connect-src 'self' cell:; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

let engineHost: UtilityProcess | null = null;
let nextId = 1;
const pending = new Map<number, (reply: HostReply) => void>();
let mainWindow: BrowserWindow | null = null;

function startEngineHost(): Promise<void> {
  const electronBinding = path.join(
    app.getAppPath(),
    'node_modules/better-sqlite3/build-electron/better_sqlite3.node',
  );
  engineHost = utilityProcess.fork(path.join(import.meta.dirname, 'engine-host.js'), [], {
    serviceName: 'RedDino engine',
    env: {
      ...process.env,
      REDDINO_CONFIG_DIR: app.getPath('userData'),
      REDDINO_RESOURCES_DIR: path.join(
        app.isPackaged ? process.resourcesPath : app.getAppPath(),
        'resources',
      ),
      ...(fs.existsSync(electronBinding) ? { REDDINO_SQLITE_BINDING: electronBinding } : {}),
    },
  });
  return new Promise((resolve) => {
    engineHost!.on('message', (msg: HostReply) => {
      if (msg.type === 'ready') resolve();
      else if (msg.type === 'event') mainWindow?.webContents.send('api:event', msg.event);
      else {
        pending.get(msg.id)?.(msg);
        pending.delete(msg.id);
      }
    });
    engineHost!.on('exit', (code) => {
      for (const [, reply] of pending)
        reply({
          type: 'result',
          id: 0,
          ok: false,
          error: {
            code: 'engine-exit',
            message: `The engine stopped (code ${code}). Restart the app; your labels are saved.`,
          },
        });
      pending.clear();
    });
  });
}

function request(req: HostRequestBody): Promise<HostReply> {
  const id = nextId++;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    engineHost!.postMessage({ ...req, id } as HostRequest);
  });
}

function isOurFrame(url: string | undefined): boolean {
  if (!url) return false;
  if (process.env.ELECTRON_RENDERER_URL) return url.startsWith(process.env.ELECTRON_RENDERER_URL);
  return url.startsWith('file://') && url.includes(path.join('out', 'renderer').replaceAll('\\', '/'));
}

function createWindow(): void {
  mainWindow = new BrowserWindow({
    width: 1440,
    height: 900,
    title: 'RedDino Studio',
    show: false,
    webPreferences: {
      preload: path.join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  mainWindow.once('ready-to-show', () => mainWindow?.show());
  // Navigation and new windows are never allowed: the renderer is a single page with no business leaving it.
  mainWindow.webContents.on('will-navigate', (e) => e.preventDefault());
  mainWindow.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  if (process.env.ELECTRON_RENDERER_URL) void mainWindow.loadURL(process.env.ELECTRON_RENDERER_URL);
  else void mainWindow.loadFile(path.join(import.meta.dirname, '../renderer/index.html'));
}

async function openStartupProject(): Promise<void> {
  const recent = (await request({ type: 'call', method: 'project.recent', args: {} })) as HostReply;
  const list = recent.type === 'result' && recent.ok ? (recent.result as string[]) : [];
  if (list.length > 0) {
    await request({ type: 'call', method: 'project.open', args: { path: list[0] } });
    return;
  }
  // First start: a demo project built from the bundled Chula RBC-12 fields, so there is something to explore.
  const demoDir = path.join(app.getPath('userData'), 'demo.rdproj');
  const demoFields = path.join(
    process.resourcesPath && app.isPackaged ? process.resourcesPath : app.getAppPath(),
    'resources/demo',
  );
  const exists = fs.existsSync(path.join(demoDir, 'cells.db'));
  await request({
    type: 'call',
    method: exists ? 'project.open' : 'project.create',
    args: { path: demoDir },
  });
  if (!exists)
    await request({
      type: 'call',
      method: 'ingest.start',
      args: { paths: [demoFields], source: 'Chula RBC-12 demo' },
    });
}

app.on('web-contents-created', (_e, contents) => {
  contents.on('will-attach-webview', (e) => e.preventDefault());
});

void app.whenReady().then(async () => {
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  protocol.handle('cell', async (req) => {
    const url = new URL(req.url);
    const kind = url.hostname === 'image' ? 'image' : url.hostname === 'tile' ? 'tile' : 'thumb';
    // thumb/<cell id>, image/<image id>, tile/<image id>/<level>/<x>/<y>
    const parts = url.pathname.replace(/^\//, '').split('/').map(Number);
    const mediaId = parts[0];
    if (
      !parts.every((n) => Number.isInteger(n) && n >= 0) ||
      mediaId <= 0 ||
      parts.length !== (kind === 'tile' ? 4 : 1)
    )
      return new Response('bad id', { status: 400 });
    const tile = kind === 'tile' ? { level: parts[1], x: parts[2], y: parts[3] } : undefined;
    const r = await request({ type: 'media', kind, mediaId, tile });
    if (r.type !== 'media') return new Response('engine error', { status: 500 });
    return new Response(Buffer.from(r.body), { status: r.status, headers: { 'content-type': r.mime } });
  });

  ipcMain.handle('api:call', async (event, method: unknown, args: unknown): Promise<CallEnvelope> => {
    if (!isOurFrame(event.senderFrame?.url))
      return { ok: false, error: { code: 'forbidden', message: 'Call from an unknown frame refused.' } };
    if (typeof method !== 'string')
      return { ok: false, error: { code: 'invalid-args', message: 'method must be a string' } };
    // The engine validates `args` against the contract's zod schema; main only relays.
    const r = await request({ type: 'call', method, args });
    return r.type === 'result'
      ? r.ok
        ? { ok: true, result: r.result }
        : { ok: false, error: r.error }
      : { ok: false, error: { code: 'error', message: 'unexpected reply' } };
  });
  ipcMain.handle('dialog:pick', async (event, opts: { directory: boolean; title: string }) => {
    if (!isOurFrame(event.senderFrame?.url) || !mainWindow) return [];
    const r = await dialog.showOpenDialog(mainWindow, {
      title: String(opts?.title ?? 'Choose'),
      properties: opts?.directory ? ['openDirectory', 'multiSelections'] : ['openFile', 'multiSelections'],
    });
    return r.canceled ? [] : r.filePaths;
  });

  Menu.setApplicationMenu(null);
  await startEngineHost();
  await openStartupProject();
  createWindow();
});

app.on('window-all-closed', () => {
  engineHost?.kill();
  app.quit();
});
