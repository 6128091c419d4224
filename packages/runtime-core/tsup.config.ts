import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'conformance/index': 'src/conformance/index.ts',
    'demo/index': 'src/demo/index.ts',
    'testkit/index': 'src/testkit/index.ts',
    'migrate/index': 'src/migrate/index.ts',
    'migrate/cli': 'src/migrate/cli.ts',
  },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  external: ['vitest'],
});
