import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['docs/**/*.test.ts', 'protocol/**/*.test.ts', 'sw/**/*.test.ts', 'app/**/*.test.ts', 'server/**/*.test.ts', 'plugin/**/*.test.ts', 'scripts/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
