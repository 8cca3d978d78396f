// ESLint for the lab extension, after jupyterlab/extension-template: the recommended JS, typescript-eslint and
// Jupyter rule sets, the template's own rules, and prettier (formatting errors are lint errors).
import js from '@eslint/js';
import jupyterPlugin from '@jupyter/eslint-plugin';
import prettierRecommended from 'eslint-plugin-prettier/recommended';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig([
  { ignores: ['node_modules', '.yarn', 'lib', 'lib-test', '**/*.d.ts'] },
  js.configs.recommended,
  { plugins: { jupyter: jupyterPlugin } },
  jupyterPlugin.configs.recommended,
  {
    rules: {
      // the extension is not translated (no ITranslator): its strings are plain English
      'jupyter/no-untranslated-string': 'off',
      // a few small modules, and activate() builds the panel at once: lazy imports would only delay the badges
      'jupyter/prefer-lazy-imports': 'off'
    }
  },
  {
    files: ['src/**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { project: 'tsconfig.json', tsconfigRootDir: import.meta.dirname, sourceType: 'module' }
    },
    rules: {
      '@typescript-eslint/naming-convention': [
        'error',
        { selector: 'interface', format: ['PascalCase'], custom: { regex: '^I[A-Z]', match: true } }
      ],
      '@typescript-eslint/no-unused-vars': ['warn', { args: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-use-before-define': 'off',
      curly: ['error', 'all'],
      eqeqeq: 'error',
      'prefer-arrow-callback': 'error'
    }
  },
  {
    // the node:test unit tests and this file
    files: ['test/**/*.js', '*.mjs'],
    languageOptions: { globals: globals.node }
  },
  { files: ['test/**/*.js'], languageOptions: { sourceType: 'commonjs' } },
  prettierRecommended
]);
