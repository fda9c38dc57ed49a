import tseslint from 'typescript-eslint';

const bannedInWorkflows = [
  { group: ['node:*', 'fs', 'fs/*', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'worker_threads'], message: 'Workflow code must be deterministic and free of I/O: move this to an activity.' },
  { group: ['sharp', '@aws-sdk/*', '@tensorflow/*', '@temporalio/activity', '@temporalio/worker', '@temporalio/client'], message: 'Workflow code may not import I/O, ML or non-workflow Temporal modules.' },
  { group: ['**/activities/*', '**/ml/*', '**/data/*', '**/storage/*', '**/cli/*', '**/workers/*', '**/infra/*'], allowTypeImports: true, message: 'Workflows may import only types from these layers.' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.tools/**', 'dist/**', 'engines/**', 'bin/**', 'scripts/**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: bannedInWorkflows }],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Workflows get randomness from Temporal (it is replayed), or from a seeded RNG.' }],
    },
  },
);
