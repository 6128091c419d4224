/**
 * The files of published snapshots, read from the project's history (`git.readAt`) and kept in memory.
 *
 * A commit's files never change, so an entry keyed by (project, commit, path) is never stale: players of a popular
 * game are served from memory instead of one history read per file and player (one Modal round trip each). The least
 * recently used entries go first once the cache holds `maxBytes`; files larger than `maxFileBytes` are not kept.
 */
import type { ExecutionBackend, ProjectScope } from '@dreamcore/runtime-core';

export interface SnapshotFilesOptions {
  maxBytes?: number;
  maxFileBytes?: number;
}

export class SnapshotFiles {
  private readonly entries = new Map<string, Promise<Uint8Array>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;
  private readonly maxBytes: number;
  private readonly maxFileBytes: number;

  constructor(
    private readonly backend: ExecutionBackend,
    options: SnapshotFilesOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxFileBytes = options.maxFileBytes ?? 4 * 1024 * 1024;
  }

  /** Bytes held now (for tests and metrics). */
  get size(): number {
    return this.bytes;
  }

  read(scope: ProjectScope, commit: string, path: string): Promise<Uint8Array> {
    const key = `${scope.projectId}\0${commit}\0${path}`;
    const hit = this.entries.get(key);
    if (hit) {
      // Most recently used goes to the end (a Map iterates in insertion order).
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const reading = this.backend.git.readAt(scope, commit, path);
    this.entries.set(key, reading);
    reading.then(
      (bytes) => {
        if (this.entries.get(key) !== reading) return;
        if (bytes.byteLength > this.maxFileBytes) return void this.entries.delete(key);
        this.sizes.set(key, bytes.byteLength);
        this.bytes += bytes.byteLength;
        this.evict();
      },
      // A failed read (missing file, backend down) is not remembered: the next request asks again.
      () => {
        if (this.entries.get(key) === reading) this.entries.delete(key);
      },
    );
    return reading;
  }

  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) return;
      const size = this.sizes.get(key);
      if (size === undefined) continue; // still being read
      this.entries.delete(key);
      this.sizes.delete(key);
      this.bytes -= size;
    }
  }
}
