import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One Ceph RGW cluster for the run, started when a test first asks for it.
    globalSetup: ['test/support/shared-ceph-rgw.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start real servers and redis processes; two cores do not gain from more.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
