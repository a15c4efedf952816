import { defineConfig } from 'vitest/config';

// Unit tests of the console's pure modules (src/**/*.test.ts), in Node:
// no browser, no build. `npm test` runs them once; `make console-test`
// runs them from `make test`.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
