// The editor: chat on the left, and Preview / Versions / Assets / Publish on the right. At phone width the chat is
// one more tab. Ownership is checked (GET /api/projects/:id) before anything of the project is requested.
import { h, toast, promptDialog } from '../lib/dom.js';
import { UUID_PATTERN } from '../lib/ids.js';
import { accountMenu, brand, connectionBadge, errorText } from './chrome.js';
import { createChat } from '../editor/chat.js';
import { createPreview } from '../editor/preview.js';
import { codeActions } from '../editor/code.js';
import { createVersions } from '../editor/versions.js';
import { createAssets } from '../editor/assets.js';
import { createPublish } from '../editor/publish.js';
import { t } from '../i18n/index.js';

/** @type {Array<[string, import('../i18n/index.js').Key]>} */
const TABS = [
  ['chat', 'editor.tabChat'],
  ['preview', 'editor.tabPreview'],
  ['versions', 'editor.tabVersions'],
  ['assets', 'editor.tabAssets'],
  ['publish', 'editor.tabPublish'],
];
const CHAT_ERRORS = new Set(['DAILY_MESSAGE_LIMIT_EXCEEDED', 'RATE_LIMITED', 'SYSTEM_LIMIT_EXCEEDED']);
const MOBILE = window.matchMedia('(max-width: 760px)');

/**
 * @param {HTMLElement} root
 * @param {import('../main.js').App} app
 * @param {string} message
 */
function deniedScreen(root, app, message) {
  root.append(
    h(
      'div',
      { class: 'denied-screen', dataset: { testid: 'editor-denied' } },
      h('header', { class: 'topbar' }, brand(), h('div', { class: 'topbar-right' }, accountMenu(app))),
      h(
        'div',
        { class: 'card denied-card' },
        h('div', { class: 'denied-icon', 'aria-hidden': 'true' }, '🔒'),
        h('h1', {}, t('editor.notAvailable')),
        h('p', {}, message),
        h('p', { class: 'muted small' }, t('editor.goingBack')),
        h('a', { class: 'button primary', href: '#/' }, t('editor.myGames')),
      ),
    ),
  );
  const timer = setTimeout(() => app.navigate('/', { replace: true }), 2500);
  return () => clearTimeout(timer);
}

/** @type {import('../main.js').Screen} */
export function mountEditor(root, app, route) {
  /** @type {string} */
  const projectId = route.projectId;
  if (!UUID_PATTERN.test(projectId)) return deniedScreen(root, app, t('editor.doesNotExist'));

  const { socket, api } = app;
  /** @type {Array<() => void>} */
  const offs = [];
  let disposed = false;
  let selected = false;
  let projectName = '';
  /** @type {(() => void) | null} */
  let cleanupDenied = null;
  /** @type {Set<string>} */
  const tabsSeen = new Set();

  const shell = h('div', { class: 'editor', dataset: { tab: MOBILE.matches ? 'chat' : 'preview', testid: 'editor' } });
  root.append(shell);
  shell.append(h('div', { class: 'editor-loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' ', t('editor.opening')));

  /** @param {string} message */
  function denied(message) {
    if (disposed || cleanupDenied) return;
    socket.deselectProject();
    shell.remove();
    cleanupDenied = deniedScreen(root, app, message);
  }

  (async () => {
    let project;
    try {
      project = await api.get(`/api/projects/${projectId}`);
    } catch (/** @type {any} */ error) {
      if (disposed) return;
      if (error.status === 403 || error.status === 404 || error.status === 400) {
        return denied(t('errors.accessDenied'));
      }
      const loading = shell.querySelector('.editor-loading');
      if (loading) loading.textContent = t('editor.openFailed', { message: error.message });
      return;
    }
    if (disposed) return;
    projectName = project.name;
    build();
  })();

  function build() {
    shell.textContent = '';
    document.title = `${projectName} · DreamCore`;
    const conn = connectionBadge(socket);
    offs.push(conn.dispose);

    const nameButton = h(
      'button',
      { type: 'button', class: 'project-title', title: t('editor.renameTitle'), dataset: { testid: 'project-title' }, onclick: rename },
      projectName,
    );
    const chat = createChat({
      app,
      projectId,
      onJobEnded: (how) => {
        if (how === 'completed') {
          preview.reload();
          versions.refresh();
          publish.refreshStatus();
        }
      },
    });
    const preview = createPreview({ app, projectId, messageBox: () => chat.input });
    const versions = createVersions({
      app,
      projectId,
      onRestored: () => {
        preview.reload();
        publish.refreshStatus();
      },
    });
    // The game's code, read-only, and its files as a zip: next to its history.
    versions.el.querySelector('.panel-toolbar')?.append(codeActions({ app, projectId, projectName: () => projectName }));
    const assets = createAssets({
      app,
      projectId,
      onUse: (asset) => {
        chat.insertReference(asset);
        if (MOBILE.matches) setTab('chat');
      },
    });
    // "Changes not yet public": the game was published and changed since; a click goes to the Publish tab.
    const publicChanges = h(
      'button',
      { type: 'button', class: 'public-changes', hidden: true, dataset: { testid: 'public-changes' }, onclick: () => setTab('publish') },
      t('publish.changesPending'),
    );
    const publish = createPublish({
      app,
      projectId,
      projectName: () => projectName,
      onStatus: ({ state }) => {
        publicChanges.hidden = state !== 'behind';
        // At phone width the bar has no room: the Publish tab carries a dot instead.
        const tab = tabButtons.find((b) => b.dataset.tab === 'publish');
        if (state === 'behind') tab?.setAttribute('data-changes', 'pending');
        else tab?.removeAttribute('data-changes');
        tab?.setAttribute('title', state === 'behind' ? t('publish.changesPending') : '');
      },
    });
    offs.push(
      () => chat.dispose(),
      () => preview.dispose(),
      () => versions.dispose(),
      () => publish.dispose(),
    );

    const panels = {
      preview: h('div', { class: 'panel', dataset: { panel: 'preview' } }, preview.el),
      versions: h('div', { class: 'panel', dataset: { panel: 'versions' } }, versions.el),
      assets: h('div', { class: 'panel', dataset: { panel: 'assets' } }, assets.el),
      publish: h('div', { class: 'panel', dataset: { panel: 'publish' } }, publish.el),
    };
    const tabButtons = TABS.map(([id, key]) =>
      h('button', { type: 'button', role: 'tab', class: `tab tab-${id}`, dataset: { tab: id }, onclick: () => setTab(id) }, h('span', {}, t(key))),
    );

    /** @param {string} id */
    function setTab(id) {
      shell.dataset.tab = id;
      for (const b of tabButtons) b.setAttribute('aria-selected', String(b.dataset.tab === id));
      if (!tabsSeen.has(id)) {
        tabsSeen.add(id);
        if (id === 'assets') assets.load();
        if (id === 'publish') publish.load();
      }
    }

    async function rename() {
      const name = await promptDialog({ title: t('projects.renameTitle'), label: t('projects.nameLabel'), value: projectName });
      if (!name || name === projectName) return;
      if (!socket.send({ type: 'renameProject', projectId, name })) toast(t('common.notConnected'), 'error');
    }

    shell.append(
      h(
        'header',
        { class: 'topbar editor-bar' },
        h('div', { class: 'topbar-left' }, brand(), h('a', { href: '#/', class: 'back-link' }, t('editor.backToGames')), nameButton, publicChanges),
        h('div', { class: 'topbar-right' }, conn.el, accountMenu(app)),
      ),
      h('nav', { class: 'editor-tabs', role: 'tablist' }, tabButtons),
      h('div', { class: 'pane pane-chat' }, chat.el),
      h('div', { class: 'pane pane-side' }, Object.values(panels)),
    );
    setTab(shell.dataset.tab ?? 'preview');
    publish.refreshStatus();

    offs.push(
      socket.on('projectSelected', (m) => {
        if (m.projectId !== projectId) return;
        // Every time (after a reconnect too): the chat settles a message that was on its way and sends its outbox.
        chat.projectSelected(m);
        if (!selected) {
          selected = true;
          preview.load();
        }
      }),
      socket.on('gameUpdated', (m) => {
        if (m.projectId !== projectId) return;
        preview.reload();
        publish.refreshStatus();
      }),
      socket.on('versionRestored', (m) => {
        if (m.projectId === projectId) preview.reload();
      }),
      socket.on('projectRenamed', (m) => {
        if (m.project?.id !== projectId) return;
        projectName = m.project.name;
        nameButton.textContent = projectName;
        document.title = `${projectName} · DreamCore`;
      }),
      socket.on('projectDeleted', (m) => {
        if (m.projectId === projectId) denied(t('editor.deleted'));
      }),
      socket.on('error', (m) => {
        if (m.message === 'Access denied' && !selected) return denied(t('errors.accessDenied'));
        // The chat shows quota and rate limits in the conversation.
        if (!CHAT_ERRORS.has(m.error?.code)) toast(errorText(m), 'error', 6000);
      }),
    );

    (async () => {
      if (!(await socket.whenReady(15_000)) && !disposed) toast(t('editor.stillConnecting'), 'error');
      if (!disposed) socket.selectProject(projectId);
    })();
  }

  return () => {
    disposed = true;
    offs.forEach((off) => off());
    cleanupDenied?.();
    if (selected || socket.projectId === projectId) socket.deselectProject();
    document.title = 'DreamCore';
  };
}
