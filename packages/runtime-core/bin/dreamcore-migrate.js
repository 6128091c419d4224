#!/usr/bin/env node
// dreamcore-migrate: move users (projects with their full git history, and assets) between DreamCore backends.
// Runs the built CLI (dist/); inside the repository use `npm run migrate -- …`, which runs the TypeScript source.
// `dreamcore-migrate --help` lists the options; examples/migrate/README.md explains the migration and the rollback drill.
const { main } = await import('../dist/migrate/cli.js');
process.exitCode = await main(process.argv.slice(2));
