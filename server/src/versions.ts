/**
 * The version history as DreamCore's editor shows it, built from the project's git log: one version per change of
 * the game, with what changed in words (the agent's summary of its turn, kept in the commit message's body) and the
 * game files it touched. Commits that only change the promo video, thumbnail, publish form or style are not game
 * versions and are not listed; restoring a game version keeps them as they are now.
 */
import { isBackendError, type CommitInfo, type CommitResult, type ExecutionBackend, type ProjectScope } from '@dreamcore/runtime-core';
import { headCommit, isGameContent, isMediaOrSettings } from './game-content.js';

export interface VersionView {
  id: string;
  number: number;
  /** The request that made it (the commit's first line). */
  message: string;
  /** What changed, in the agent's words ('' for versions made before summaries were kept). */
  summary: string;
  /** Game files this version changed. */
  files: string[];
  timestamp: string;
  hash: string;
}

// Bookkeeping commits the user did not make themselves. Restores stay visible: they are versions you can undo.
const HIDDEN = [/^Before restore/, /^Initial project setup/, /^Initial commit/, /^Migration from/];

/** A commit that is a version of the game: not bookkeeping, and it changed at least one game file. */
function isGameVersion(commit: CommitInfo): boolean {
  if (HIDDEN.some((re) => re.test(commit.message))) return false;
  return commit.files.length === 0 || commit.files.some(isGameContent);
}

/**
 * The subject of a generation's commit: the request's first line (short, as V2's local mode did). The backend adds
 * the agent's summary (its final reply) as the body when it commits after the run (runtime-core's runCommitMessage).
 */
export function versionSubject(prompt: string): string {
  const line =
    prompt
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? 'Update';
  return line.length > 50 ? `${line.slice(0, 50)}…` : line;
}

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
  const visible = commits.filter(isGameVersion).slice(0, 20);
  return {
    versions: visible.map((c, i) => {
      const [subject = '', ...body] = c.message.split('\n');
      return {
        id: c.shortHash,
        number: i + 1,
        message: subject,
        summary: body.join('\n').trim(),
        files: c.files.filter(isGameContent),
        timestamp: c.date,
        hash: c.shortHash,
      };
    }),
    // The game is at its newest version, whatever media commits came after it.
    currentHead: visible[0]?.shortHash ?? commits[0]?.shortHash ?? null,
    autoInitialized,
  };
}

/**
 * Restores a game version (a new commit, as git.restore does) and then puts back the promo video, thumbnail, publish
 * form and style as they were just before: they are not part of the game's history. Bringing them back is a second,
 * media-only commit, which the history does not list.
 */
export async function restoreGameVersion(backend: ExecutionBackend, scope: ProjectScope, version: string, message: string): Promise<CommitResult> {
  const before = await headCommit(backend, scope);
  const restored = await backend.git.restore(scope, version, { message });
  if (!before || before === restored.hash) return restored;
  const changed = (await backend.git.diff(scope, before, restored.hash)).files.filter((f) => isMediaOrSettings(f.path));
  if (changed.length === 0) return restored;
  for (const { path } of changed) {
    try {
      await backend.files.write(scope, path, await backend.git.readAt(scope, before, path));
    } catch (error) {
      // Not there before the restore: the restored version brought it, and it goes.
      if (!isBackendError(error, 'NOT_FOUND')) throw error;
      await backend.files.delete(scope, path);
    }
  }
  await backend.git.commit(scope, 'Keep the promo video and publish settings after restore');
  return restored;
}

/**
 * A new project's index.html: what the preview shows before the first generation. It speaks the viewer's language
 * (the first of the browser's that the app speaks: the six of public/js/i18n; the preview's frame cannot read the
 * app's own choice) and says what to do, in DreamCore's words (V2 said "Welcome to Game Creator", a name the product
 * does not use). The first generation replaces it.
 */
export const WELCOME_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>New game</title>
<meta name="dreamcore-placeholder" content="new-project">
<style>body{margin:0;min-height:100vh;display:grid;place-items:center;background:#15121f;color:#f4f1ff;font-family:system-ui,sans-serif;text-align:center;padding:24px;box-sizing:border-box}
.mark{font-size:2.4rem;color:#ff4f8b}h1{font-size:1.4rem;margin:.4em 0}p{color:#b9b3cf;line-height:1.6;margin:0}[lang]:not(html)[hidden]{display:none}</style></head>
<body><main>
<div class="mark" aria-hidden="true">◆</div>
<div lang="en"><h1>Your game will appear here</h1><p>Tell DreamCore in the chat what you would like to make.</p></div>
<div lang="ja" hidden><h1>ここにゲームが表示されます</h1><p>作りたいゲームをチャットで伝えてください。</p></div>
<div lang="zh" hidden><h1>你的游戏会显示在这里</h1><p>在聊天中告诉 DreamCore 你想做什么。</p></div>
<div lang="ko" hidden><h1>여기에 게임이 표시됩니다</h1><p>만들고 싶은 게임을 채팅으로 DreamCore에게 알려 주세요.</p></div>
<div lang="es" hidden><h1>Tu juego aparecerá aquí</h1><p>Cuéntale a DreamCore en el chat qué te gustaría crear.</p></div>
<div lang="pt" hidden><h1>Seu jogo vai aparecer aqui</h1><p>Conte ao DreamCore no chat o que você quer criar.</p></div>
</main>
<script>(function(){var langs=navigator.languages&&navigator.languages.length?navigator.languages:[navigator.language||'en'];
for(var i=0;i<langs.length;i++){var l=String(langs[i]).toLowerCase().split(/[-_]/)[0];var el=document.querySelector('main>[lang="'+l+'"]');
if(el){document.querySelectorAll('main>[lang]').forEach(function(d){d.hidden=d!==el;});document.documentElement.lang=l;return;}}})();</script>
</body>
</html>
`;
