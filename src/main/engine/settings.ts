import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface AppSettings {
  annotator: string;
  provider: 'auto' | 'cpu' | 'cuda' | 'dml' | 'coreml';
  theme: 'light' | 'dark';
  recentProjects: string[];
}

const DEFAULTS: AppSettings = {
  annotator: os.userInfo().username || 'technician',
  provider: 'auto',
  theme: 'light',
  recentProjects: [],
};

export function configDir(): string {
  if (process.env.REDDINO_CONFIG_DIR) return process.env.REDDINO_CONFIG_DIR;
  const base =
    process.platform === 'win32'
      ? (process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'))
      : process.platform === 'darwin'
        ? path.join(os.homedir(), 'Library', 'Application Support')
        : (process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'));
  return path.join(base, 'reddino-studio');
}

/** Where imported ViT models (built ONNX graphs) live, shared by all projects of this user. */
export function modelsDir(): string {
  return path.join(configDir(), 'models');
}

/** Per-user settings in a small JSON file, written atomically (temp file + rename) so a crash never truncates it. */
export class SettingsFile {
  private readonly file: string;
  private cache: AppSettings | null = null;

  constructor(dir = configDir()) {
    this.file = path.join(dir, 'settings.json');
  }

  get(): AppSettings {
    if (this.cache) return this.cache;
    let loaded: Partial<AppSettings> = {};
    try {
      loaded = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<AppSettings>;
    } catch {
      // Missing or unreadable settings fall back to defaults; the file is rewritten on the next change.
    }
    this.cache = { ...DEFAULTS, ...loaded };
    return this.cache;
  }

  update(patch: Partial<AppSettings>): AppSettings {
    const next = { ...this.get(), ...patch };
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(next, null, 2));
    fs.renameSync(tmp, this.file);
    this.cache = next;
    return next;
  }

  addRecent(projectPath: string): void {
    const recent = [projectPath, ...this.get().recentProjects.filter((p) => p !== projectPath)].slice(0, 10);
    this.update({ recentProjects: recent });
  }
}
