/**
 * Secrets the server makes itself on first boot and must keep (the embedded issuer's signing key, the preview-URL
 * secret): in the data directory for one instance, in the database (migration 007's `server_secrets`) when several
 * instances share it, so a token or a signed URL made by one is good on all.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The value stored under `name`, storing `create()` first when there is none. */
export type SecretSource = (name: string, create: () => Promise<string> | string) => Promise<string>;

export function dataDirSecrets(dataDir: string): SecretSource {
  return async (name, create) => {
    const file = path.join(dataDir, '.server', name);
    try {
      return (await fs.readFile(file, 'utf8')).trim();
    } catch {
      const secret = await create();
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await fs.writeFile(file, secret, { mode: 0o600 });
      return secret;
    }
  };
}
