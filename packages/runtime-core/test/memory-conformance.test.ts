import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
import { createMemoryBackend } from './memory-backend.js';

runConformanceSuite({ name: 'memory', factory: () => createMemoryBackend() });
