import path from 'node:path';
import { ApiError, type ApiArgs, type ApiMethod, type ApiResults } from '../shared/api';
import { Engine } from '../main/engine/engine';
import { StoreError } from '../main/engine/store/errors';
import { UsageError } from './args';
import { commands, type CliContext } from './commands';
import './commands-classes';
import './commands-learn';
import './commands-export';

const HELP = `reddino — RedDino Studio command line: red blood cell projects without the desktop app.

Usage: reddino <command> [options]      (every command takes --json for machine output)

Commands:
${commands.map((c) => `  ${c.usage.padEnd(58)} ${c.summary}`).join('\n')}

A project is a folder (conventionally *.rdproj) holding cells.db (SQLite) and media/.
Errors print one line on stderr and exit with status 1 (2 for a usage error).`;

/** Runs one CLI invocation and returns the exit code (the bin shim sets process.exitCode). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write('0.1.0\n');
    return 0;
  }
  const cmd = commands.find(
    (c) => c.name === name || (c.name.includes(' ') && `${name} ${rest[0]}` === c.name),
  );
  if (!cmd) {
    const group = commands.filter((c) => c.name.startsWith(`${name} `));
    if (group.length > 0) {
      const subs = group.map((c) => c.name.slice(name.length + 1)).join('|');
      process.stderr.write(`reddino ${name}: usage: reddino ${name} ${subs} ... (see "reddino --help")\n`);
      return 2;
    }
    process.stderr.write(`reddino: unknown command "${name}". Run "reddino --help" for the list.\n`);
    return 2;
  }
  const args = cmd.name.includes(' ') ? rest.slice(1) : rest;
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      `Usage: reddino ${cmd.usage}\n\n${cmd.summary}\n${cmd.details ? '\n' + cmd.details + '\n' : ''}`,
    );
    return 0;
  }
  const engine = new Engine({ upgradeModels: cmd.name === 'web' });
  const ctx: CliContext = {
    engine,
    call: <M extends ApiMethod>(method: M, a: ApiArgs<M>) => engine.call(method, a) as Promise<ApiResults[M]>,
    openProject: async (p: string | undefined) => {
      if (!p) throw new UsageError('missing required option --project');
      await engine.openProject(path.resolve(p), false);
    },
  };
  try {
    return (await cmd.run(args, ctx)) ?? 0;
  } catch (err) {
    const e = err as Error;
    const usage = err instanceof UsageError;
    const known = usage || err instanceof StoreError || err instanceof ApiError;
    const msg = (e.message || String(err)).split('\n')[0];
    process.stderr.write(
      `reddino ${cmd.name}: ${usage ? 'usage: ' : ''}${msg}${usage ? ` (see "reddino ${cmd.name} --help")` : ''}\n`,
    );
    if (!known && process.env.REDDINO_DEBUG) process.stderr.write(`${e.stack}\n`);
    return usage ? 2 : 1;
  } finally {
    await engine.dispose();
  }
}
