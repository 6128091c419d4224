// Run the whole DreamCore conformance suite against your own backend: this file is all it takes.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runConformanceSuite } from '@dreamcore/runtime-core/conformance';
import { createMyBackend } from './my-backend.js';

runConformanceSuite({ name: 'my-files-only', factory: () => createMyBackend(mkdtempSync(path.join(tmpdir(), 'my-backend-'))) });
