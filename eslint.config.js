// Lint rules: typescript-eslint's strict, type-aware set over the TypeScript tree; the explorer's
// browser modules and the bin/ launcher get the plain JavaScript recommendations. Formatting is
// prettier's job (.prettierrc.json), so no stylistic rules live here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'docs/**', 'data/**'] },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.strictTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Numbers and booleans print the same in every locale; anything else must be made a string on purpose.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => void sideEffect()` in callbacks reads clearly; a void value used anywhere else is still an error.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // noUncheckedIndexedAccess is on, so every index read is optional; `xs[i]!` after a bounds check is the
      // idiom that keeps that option usable. Unchecked `!` on anything else is caught in review.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // SQLite's methods implement the async storage interfaces synchronously; `async` is what turns their throws
      // into rejections, the one error path callers handle.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore marks a value kept on purpose (a rest sibling dropped, a parameter a signature needs).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    // Tests and benchmarks read JSON answers off the wire; asserting their shape is what they do.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // A defensive `?.` in a test turns a surprising answer into an assertion failure instead of a TypeError.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // Assertion messages print whatever came back, whatever its type.
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      // The SDK's instance is narrowed to the methods a test calls (see test/sdk-js.test.ts's Sdk type).
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // Tests build malformed requests by deleting whichever field a case names.
      '@typescript-eslint/no-dynamic-delete': 'off',
    },
  },
  {
    files: ['web/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.browser, sourceType: 'module' },
  },
  {
    files: ['bin/**/*.js', '*.js'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node, sourceType: 'module' },
  },
);
