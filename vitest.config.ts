import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real servers and redis processes; two cores do not gain from more.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
