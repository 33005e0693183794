import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/data';

let tmp: { dir: string; cleanup: () => void };
let env: Record<string, string>;
beforeAll(() => {
  tmp = tempDir();
  env = { REDDINO_CONFIG_DIR: path.join(tmp.dir, 'config') };
});
afterAll(() => tmp.cleanup());

describe('reddino CLI basics', () => {
  it('prints help listing the commands', () => {
    const r = runCli(['--help'], env);
    expect(r.code).toBe(0);
    for (const c of ['init', 'info', 'label', 'class add', 'cells', 'web']) expect(r.stdout).toContain(c);
  });

  it('creates a project and reports its counts as JSON', () => {
    const p = path.join(tmp.dir, 'p.rdproj');
    const init = runCli(['init', p, '--json'], env);
    expect(init.code).toBe(0);
    expect(init.json<{ path: string }>().path).toBe(p);
    const info = runCli(['info', p, '--json'], env);
    expect(info.code).toBe(0);
    const stats = info.json<{
      images: number;
      cells: number;
      labeled: number;
      labelsPerClass: object;
      models: unknown[];
    }>();
    expect(stats).toMatchObject({ images: 0, cells: 0, labeled: 0, labelsPerClass: {}, models: [] });
  });

  it('adds classes idempotently and lists them', () => {
    const p = path.join(tmp.dir, 'p.rdproj');
    const a = runCli(['class', 'add', '--project', p, 'Pappenheimer body', '--key', 'B', '--json'], env);
    expect(a.code).toBe(0);
    expect(a.json<{ created: boolean }>().created).toBe(true);
    expect(
      runCli(['class', 'add', '--project', p, 'pappenheimer body', '--json'], env).json<{
        created: boolean;
      }>().created,
    ).toBe(false);
    const list = runCli(['class', 'list', '--project', p, '--json'], env).json<
      Array<{ name: string; hotkey: string }>
    >();
    expect(list.find((c) => c.name === 'Pappenheimer body')?.hotkey).toBe('B');
    expect(list.find((c) => c.name === 'echinocyte')).toBeDefined();
  });

  it('fails with a one-line reason and a non-zero code', () => {
    const missing = runCli(['info', path.join(tmp.dir, 'missing.rdproj'), '--json'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/No RedDino project/);
    const again = runCli(['init', path.join(tmp.dir, 'p.rdproj')], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const badFlag = runCli(['info', path.join(tmp.dir, 'p.rdproj'), '--bogus'], env);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/bogus/);
    const unknown = runCli(['frobnicate'], env);
    expect(unknown.code).toBe(2);
    const badLabel = runCli(
      ['label', '--project', path.join(tmp.dir, 'p.rdproj'), '--cells', '1', '--class', 'normal'],
      env,
    );
    expect(badLabel.code).toBe(1);
    expect(badLabel.stderr).toMatch(/No cell with id 1/);
  });
});
