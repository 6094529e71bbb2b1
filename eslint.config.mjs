// Lint: typescript-eslint recommended plus the layer rules of DESIGN.md (imports point down only).
import tseslint from 'typescript-eslint';

const restrict = (patterns, message) => ({
  'no-restricted-imports': ['error', { patterns: patterns.map((group) => ({ group: [group], message })) }],
});
const noVscode = { paths: [{ name: 'vscode', message: 'Only src/extension may import vscode.' }] };

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '**/*.mjs', '**/*.js', 'examples/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      curly: 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'No default exports.' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { ...noVscode, patterns: [{ group: ['../formats/*', '../analysis/*', '../runtime/*', '../cli/*', '../extension/*', '../webview/*', '../protocol/*', '../*/*'], message: 'core imports Node built-ins only.' }] }],
    },
  },
  {
    files: ['src/formats/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { ...noVscode, patterns: [{ group: ['**/analysis/*', '**/runtime/*', '**/cli/*', '**/extension/*', '**/webview/*'], message: 'formats may import core only.' }] }] },
  },
  {
    files: ['src/analysis/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { ...noVscode, patterns: [{ group: ['**/runtime/*', '**/cli/*', '**/extension/*', '**/webview/*'], message: 'analysis may import formats and core only.' }] }] },
  },
  {
    files: ['src/runtime/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { ...noVscode, patterns: [{ group: ['**/cli/*', '**/extension/*', '**/webview/*'], message: 'runtime may import analysis, formats and core only.' }] }] },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { ...noVscode, patterns: [{ group: ['**/extension/*', '**/webview/*'], message: 'cli may not import extension or webview code.' }] }] },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { ...noVscode, patterns: [{ group: ['../*', 'node:*'], message: 'protocol holds types only; use import type.', allowTypeImports: true }] }],
    },
  },
  {
    files: ['src/webview/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { ...noVscode, patterns: [{ group: ['**/core/*', '**/formats/*', '**/analysis/*', '**/runtime/*', '**/cli/*', '**/extension/*', 'node:*'], message: 'webviews may import src/protocol (types) and chart.js only.' }] }],
    },
  },
  {
    files: ['test/unit/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', noVscode] },
  },
);
