/**
 * The version history as DreamCore's editor shows it, built from the project's git log.
 */
import type { CommitInfo, ExecutionBackend, ProjectScope } from '@dreamcore/runtime-core';

export interface VersionView {
  id: string;
  number: number;
  message: string;
  timestamp: string;
  hash: string;
}

// Bookkeeping commits the user did not make themselves. Restores stay visible: they are versions you can undo.
const HIDDEN = [/^Before restore/, /^Initial project setup/, /^Initial commit/, /^Migration from/];

export async function listVersions(
  backend: ExecutionBackend,
  scope: ProjectScope,
): Promise<{ versions: VersionView[]; currentHead: string | null; autoInitialized: boolean }> {
  let autoInitialized = false;
  let commits: CommitInfo[];
  try {
    commits = (await backend.git.log(scope, { limit: 50 })).commits;
  } catch (error) {
    if ((error as { code?: string }).code !== 'NOT_FOUND') throw error;
    // A project without history (an old import, a crash before the first commit) gets one now.
    await backend.git.init(scope);
    autoInitialized = true;
    commits = (await backend.git.log(scope, { limit: 50 })).commits;
  }
  const visible = commits.filter((c) => !HIDDEN.some((re) => re.test(c.message))).slice(0, 20);
  return {
    versions: visible.map((c, i) => ({ id: c.shortHash, number: i + 1, message: c.message.split('\n')[0]!, timestamp: c.date, hash: c.shortHash })),
    currentHead: commits[0]?.shortHash ?? null,
    autoInitialized,
  };
}

export const WELCOME_HTML = `<!doctype html>
<html lang="ja">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>New Game</title>
<style>body{margin:0;min-height:100vh;display:grid;place-items:center;background:#0f172a;color:#e2e8f0;font-family:system-ui,sans-serif;text-align:center}h1{font-size:1.6rem}p{color:#94a3b8}</style></head>
<body><main><h1>Welcome to Game Creator</h1><p>チャットで作りたいゲームを伝えてください。<br>Describe the game you want in the chat.</p></main></body>
</html>
`;
