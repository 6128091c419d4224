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

/**
 * A new project's index.html: what the preview shows before the first generation. It speaks the viewer's language
 * (Japanese or English, from the browser) and says what to do, in DreamCore's words (V2 said "Welcome to Game
 * Creator", a name the product does not use). The first generation replaces it.
 */
export const WELCOME_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>New game</title>
<meta name="dreamcore-placeholder" content="new-project">
<style>body{margin:0;min-height:100vh;display:grid;place-items:center;background:#15121f;color:#f4f1ff;font-family:system-ui,sans-serif;text-align:center;padding:24px;box-sizing:border-box}
.mark{font-size:2.4rem;color:#ff4f8b}h1{font-size:1.4rem;margin:.4em 0}p{color:#b9b3cf;line-height:1.6;margin:0}.t-ja{display:none}.ja .t-ja{display:block}.ja .t-en{display:none}</style></head>
<body><main>
<div class="mark" aria-hidden="true">◆</div>
<div class="t-en" lang="en"><h1>Your game will appear here</h1><p>Tell DreamCore in the chat what you would like to make.</p></div>
<div class="t-ja" lang="ja"><h1>ここにゲームが表示されます</h1><p>作りたいゲームをチャットで伝えてください。</p></div>
</main>
<script>if(/^ja/i.test((navigator.languages&&navigator.languages[0])||navigator.language||'')){document.body.className='ja';document.documentElement.lang='ja';}</script>
</body>
</html>
`;
