import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
import { createMemoryBackend } from '@dreamcore/runtime-core/testkit';

runConformanceSuite({ name: 'memory', factory: () => createMemoryBackend() });
