import { defineConfig } from 'vitest/config';

// Long checks against PostgreSQL's own regression database (npm run test:regression): not in `npm test`'s budget.
export default defineConfig({
  test: {
    include: ['test/regression/**/*.check.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 1_800_000,
    hookTimeout: 900_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
