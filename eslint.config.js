// Lint: the recommended JavaScript and TypeScript rules, with the few exceptions numeric code needs.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Build output, dependencies, Python tools and local scratch folders (git-ignored) are not linted.
  { ignores: ['dist/**', 'node_modules/**', 'tools/train/**', 'tmp/**', 'scratch/**', 'runs/**', 'out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain Node scripts (.mjs/.js) see Node's globals.
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
);
