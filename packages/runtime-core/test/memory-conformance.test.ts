import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
import { withReadCache } from '@dreamcore/runtime-core';
import { createMemoryBackend } from '@dreamcore/runtime-core/testkit';

runConformanceSuite({ name: 'memory', factory: () => createMemoryBackend() });
// The read cache changes nothing a caller can see: the same suite passes through it.
runConformanceSuite({ name: 'memory (read cache)', factory: () => withReadCache(createMemoryBackend()) });
