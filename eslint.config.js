import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const nodeBuiltins = [
  'node:*',
  'fs',
  'path',
  'os',
  'child_process',
  'worker_threads',
  'crypto',
  'http',
  'url',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'out',
      'dist',
      '.cache',
      'test-results',
      'resources',
      'test/fixtures',
      'bench/results',
      '**/*.cjs',
      // AssemblyScript (its own types and builtins), compiled by scripts/build-wasm.mjs.
      '**/*.as.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The contract and domain types are loaded by every process, the sandboxed renderer included.
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [...nodeBuiltins, 'electron', '**/main/**', '**/renderer/**', '**/preload/**'] },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': [
        'error',
        { patterns: [...nodeBuiltins, 'electron', '**/main/**', '**/cli/**'] },
      ],
    },
  },
  {
    // The engine runs under plain Node (CLI, web host, tests) where electron cannot load.
    files: ['src/main/engine/**', 'src/cli/**', 'src/web/**', 'test/**', 'bench/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['electron', '**/renderer/**'] }],
    },
  },
);
