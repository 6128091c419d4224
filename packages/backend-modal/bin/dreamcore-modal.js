#!/usr/bin/env node
// dreamcore-modal: deploy to Modal (images, skills, checks) and move v1 volumes to v2. `--help` for usage;
// src/cli.ts documents it.
import { loadBuiltOrSource } from './load-source.js';

const { main } = await loadBuiltOrSource('dist/cli.js', 'src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
