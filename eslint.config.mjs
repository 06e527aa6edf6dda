// ESLint 9 flat config: the TypeScript rules that see types (typescript-eslint's recommendedTypeChecked) over apps/,
// libs/, test/, bench/; plain JavaScript rules over the few .js files (Node scripts, the browser upload page).
// Formatting is Prettier's job: eslint-config-prettier, last, turns off every rule that would fight it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The rules that make `any` travel silently: relaxed where JSON from the outside is poked at on purpose (below). */
const UNSAFE_ANY_RULES = {
  '@typescript-eslint/no-explicit-any': 'off',
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
};

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'dist-bench/',
      'coverage/',
      'test-artifacts/',
      'data/',
      '.tmp/',
      'libs/sdk/src/generated/', // written by openapi-typescript (npm run sdk:generate)
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Kept from recommendedTypeChecked, named here because they are the point of linting with types:
      // a promise nobody awaits or catches, a promise where a callback's void is expected, awaiting a non-promise.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // A rest sibling (`const { secret: _s, ...rest } = x`) or a `_`-named binding is how code says "deliberately left out".
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Off: here an `async` without `await` is a method that implements a Promise-returning contract (StorageDriver,
      // OnModuleDestroy, the malware scanner, waitFor/eventually callbacks). Dropping `async` to please the rule
      // would turn a rejected promise into a synchronous throw for the callers; adding a dummy await is noise.
      '@typescript-eslint/require-await': 'off',
      // `{}` is what a caught `unknown` narrows to after a truthiness check (`if (cause) String(cause)`); String() of it
      // is meant, as of `unknown` itself, which the rule leaves alone by default. Objects of real types stay checked.
      '@typescript-eslint/no-base-to-string': ['error', { ignoredTypeNames: ['Error', 'RegExp', 'URL', 'URLSearchParams', '{}'] }],
    },
  },
  {
    // e2e tests, their support code and the benchmarks read HTTP response bodies (supertest's `res.body` and
    // `fetch().json()` are `any`), `pg` rows and EXPLAIN plans, and assert on fields of them: the unsafe-any rules
    // would flag nearly every expect() (over 1,000 findings) without catching a bug, and typing every response
    // body would only restate the API. Unit specs beside the code (libs/**/*.spec.ts) keep the full rule set.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: UNSAFE_ANY_RULES,
  },
  {
    // Node scripts and config in plain CommonJS.
    files: ['**/*.js'],
    ignores: ['libs/web/src/public/**'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    // The browser upload page, served as it is (an ES module, no build step).
    files: ['libs/web/src/public/**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: globals.browser },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
  prettier,
);
