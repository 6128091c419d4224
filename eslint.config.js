// Lint: ESLint's recommended rules everywhere, typescript-eslint's recommended rules on the TypeScript, browser
// globals for the app in public/ (plain ES modules, no build step), Node globals for the rest.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'bench/results/**', 'data/**', 'test-artifacts/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // A name that may come from the wire is never looked up on a plain object: `key in obj` and `obj[key]` find
    // `constructor`, `toString`, `__proto__` through the prototype (one frame stopped the server that way). Use a
    // Map, or Object.hasOwn. `'literal' in x` (type narrowing) stays allowed.
    files: ['server/src/**/*.ts', 'packages/*/src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "BinaryExpression[operator='in'][left.type!='Literal']",
          message: 'Use a Map or Object.hasOwn(): `in` also finds prototype members (constructor, toString, __proto__).',
        },
      ],
    },
  },
  {
    // A promise used as a value is a bug that reads as working code: `if (limiter.take(id))` is always true once
    // take() is async (the AI limit never refused on the publishing-help routes that way). Type-aware, so only here.
    files: ['server/src/**/*.ts', 'packages/*/src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    // Tests read wire JSON whose shape the assertions check.
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['public/**/*.js'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'module' },
  },
  {
    // Skill helper files are snippets the agent copies into a game page: browser scripts whose one top-level name is
    // what the game uses.
    files: ['packages/runtime-core/skills/**/*.js'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'script' },
    rules: { '@typescript-eslint/no-unused-vars': 'off', 'no-unused-vars': 'off' },
  },
);
