// The project list: create, open, rename, delete (with confirmation), and today's quota.
import { h, clear, toast, confirmDialog, promptDialog } from '../lib/dom.js';
import { t, timeAgo, formatDate, hasKey } from '../i18n/index.js';
import { projectHash } from '../lib/router.js';
import { accountMenu, brand, connectionBadge, errorText } from './chrome.js';

/**
 * A project as the list shows it (`GET /api/projects`, `projectCreated`/`projectRenamed`/`projectDeleted`).
 * @typedef {{ id: string, name: string, updatedAt: string, [field: string]: unknown }} ProjectBrief
 */

/** @typedef {{ used: number, limit: number, remaining: number }} QuotaCount */

/** @param {string} id */
function hue(id) {
  let n = 0;
  for (const c of id) n = (n * 31 + c.charCodeAt(0)) >>> 0;
  return n % 360;
}

/**
 * @param {string} label
 * @param {QuotaCount} q
 */
function quotaMeter(label, q) {
  const unlimited = q.limit < 0;
  const pct = unlimited || q.limit === 0 ? 0 : Math.min(100, Math.round((q.used / q.limit) * 100));
  return h(
    'div',
    { class: 'quota-item' },
    h(
      'div',
      { class: 'quota-label' },
      h('span', {}, label),
      h('strong', {}, unlimited ? t('projects.usedUnlimited', { used: q.used }) : t('projects.usedOf', { used: q.used, limit: q.limit })),
    ),
    h(
      'div',
      { class: 'meter', 'aria-hidden': 'true' },
      h('div', { class: 'meter-fill', style: { width: `${pct}%` }, dataset: { level: pct >= 100 ? 'full' : pct >= 75 ? 'high' : 'ok' } }),
    ),
  );
}

/**
 * The project's thumbnail (from a promo video or an upload), over its coloured initial; nothing when it has none.
 * @param {string} projectId
 */
function thumbnail(projectId) {
  /** @type {HTMLImageElement} */
  const img = h('img', { class: 'project-thumb-img', alt: '', loading: 'lazy', decoding: 'async', src: `/api/projects/${projectId}/thumbnail` });
  img.addEventListener('load', () => img.closest('.project-thumb')?.classList.add('has-image'));
  img.addEventListener('error', () => img.remove());
  return img;
}

/**
 * A plan's name in the user's words (the server says free, pro or team).
 * @param {unknown} plan
 */
function planName(plan) {
  const key = `projects.plan${String(plan).charAt(0).toUpperCase()}${String(plan).slice(1)}`;
  return hasKey(key) ? t(key) : String(plan);
}

/** @type {import('../main.js').Screen} */
export function mountProjects(root, app) {
  const { api, socket } = app;
  /** @type {ProjectBrief[]} */
  let projects = [];
  /** @type {Map<string, string>} project id → published game id */
  let published = new Map();
  let creating = false;
  /** @type {Array<() => void>} */
  const offs = [];

  const conn = connectionBadge(socket);
  offs.push(conn.dispose);
  const listEl = h('div', { class: 'project-grid', dataset: { testid: 'project-list' } }, h('p', { class: 'muted' }, t('projects.loading')));
  const quotaEl = h('section', { class: 'quota card', 'aria-label': t('projects.usageTitle') }, h('p', { class: 'muted small' }, t('projects.loadingUsage')));
  const nameInput = h('input', { type: 'text', placeholder: t('projects.newGamePlaceholder'), maxlength: 100, 'aria-label': t('projects.newGameLabel') });
  const createButton = h('button', { type: 'submit', class: 'primary' }, t('projects.newGame'));
  const createForm = h('form', { class: 'create-form' }, nameInput, createButton);

  createForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (creating) return;
    creating = true;
    createButton.disabled = true;
    createButton.textContent = t('projects.creating');
    const ok = (await socket.whenReady()) && socket.send({ type: 'createProject', name: nameInput.value.trim() || undefined });
    if (!ok) {
      toast(t('common.notConnected'), 'error');
      resetCreate();
    }
  });

  function resetCreate() {
    creating = false;
    createButton.disabled = false;
    createButton.textContent = t('projects.newGame');
  }

  function renderList() {
    clear(listEl);
    if (projects.length === 0) {
      listEl.append(
        h(
          'div',
          { class: 'empty-state' },
          h('div', { class: 'empty-art', 'aria-hidden': 'true' }, '🎮'),
          h('h3', {}, t('projects.emptyTitle')),
          h('p', {}, t('projects.emptyText')),
        ),
      );
      return;
    }
    for (const p of projects) {
      const gameId = published.get(p.id);
      listEl.append(
        h(
          'article',
          { class: 'project-card', dataset: { projectId: p.id } },
          h(
            'a',
            { class: 'project-thumb', href: projectHash(p.id), style: { '--h': hue(p.id) }, 'aria-label': t('projects.openNamed', { name: p.name }) },
            h('span', {}, (p.name.trim()[0] ?? '?').toUpperCase()),
            thumbnail(p.id),
          ),
          h(
            'div',
            { class: 'project-info' },
            h('a', { class: 'project-name', href: projectHash(p.id) }, p.name),
            h('span', { class: 'muted small', title: formatDate(p.updatedAt) }, t('projects.updated', { when: timeAgo(p.updatedAt) })),
            gameId
              ? h(
                  'a',
                  { class: 'badge badge-live', href: `/play/${encodeURIComponent(gameId)}`, target: '_blank', rel: 'noopener' },
                  t('projects.publishedBadge'),
                )
              : null,
          ),
          h(
            'div',
            { class: 'project-actions' },
            h('a', { class: 'button small primary', href: projectHash(p.id) }, t('projects.open')),
            h('button', { type: 'button', class: 'small ghost', dataset: { action: 'rename' }, onclick: () => rename(p) }, t('projects.rename')),
            h('button', { type: 'button', class: 'small ghost danger-text', dataset: { action: 'delete' }, onclick: () => remove(p) }, t('projects.delete')),
          ),
        ),
      );
    }
  }

  /** @param {ProjectBrief} p */
  async function rename(p) {
    const name = await promptDialog({ title: t('projects.renameTitle'), label: t('projects.nameLabel'), value: p.name });
    if (!name || name === p.name) return;
    if (!socket.send({ type: 'renameProject', projectId: p.id, name })) toast(t('common.notConnected'), 'error');
  }

  /** @param {ProjectBrief} p */
  async function remove(p) {
    const ok = await confirmDialog({
      title: t('projects.deleteTitle'),
      message: t('projects.deleteMessage', { name: p.name }),
      confirmLabel: t('projects.delete'),
      danger: true,
    });
    if (!ok) return;
    if (!socket.send({ type: 'deleteProject', projectId: p.id })) toast(t('common.notConnected'), 'error');
  }

  async function loadProjects() {
    try {
      const [mine, pub] = await Promise.all([api.get('/api/projects'), api.get('/api/projects?published=true').catch(() => ({ projects: [] }))]);
      projects = mine.projects ?? [];
      published = new Map((pub.projects ?? []).map((/** @type {{ id: string, publishedGameId: string }} */ g) => [g.id, g.publishedGameId]));
      renderList();
    } catch (/** @type {any} */ error) {
      clear(listEl).append(h('p', { class: 'form-error' }, t('projects.loadFailed', { message: error.message })));
    }
  }

  async function loadQuota() {
    try {
      const q = await api.get('/api/quota');
      clear(quotaEl).append(
        h('div', { class: 'quota-head' }, h('h2', {}, t('projects.usageTitle')), h('span', { class: 'badge' }, t('projects.plan', { plan: planName(q.plan) }))),
        quotaMeter(t('projects.gamesCreated'), q.projects),
        quotaMeter(t('projects.messagesSent'), q.messages),
        h('p', { class: 'muted small' }, t('projects.resets', { date: formatDate(q.resetAt) })),
      );
      quotaEl.dataset.projectsRemaining = String(q.projects.remaining);
    } catch {
      clear(quotaEl).append(h('p', { class: 'muted small' }, t('projects.usageUnavailable')));
    }
  }

  offs.push(
    socket.on('projectCreated', (m) => {
      resetCreate();
      app.navigate(projectHash(m.project.id));
    }),
    socket.on('projectDeleted', (m) => {
      projects = m.projects ?? projects.filter((p) => p.id !== m.projectId);
      renderList();
      toast(t('projects.deleted'));
    }),
    socket.on('projectRenamed', (m) => {
      if (m.projects) projects = m.projects;
      else projects = projects.map((p) => (p.id === m.project.id ? { ...p, ...m.project } : p));
      renderList();
    }),
    socket.on('error', (m) => {
      resetCreate();
      toast(errorText(m), 'error', 6000);
      if (m.error?.code === 'DAILY_PROJECT_LIMIT_EXCEEDED') loadQuota();
    }),
  );

  root.append(
    h(
      'div',
      { class: 'projects-screen' },
      h('header', { class: 'topbar' }, brand(), h('div', { class: 'topbar-right' }, conn.el, accountMenu(app))),
      h(
        'main',
        { class: 'projects-main' },
        h('div', { class: 'projects-head' }, h('div', {}, h('h1', {}, t('projects.title')), h('p', { class: 'muted' }, t('projects.subtitle'))), createForm),
        h('div', { class: 'projects-layout' }, listEl, quotaEl),
      ),
    ),
  );
  loadProjects();
  loadQuota();
  return () => offs.forEach((off) => off());
}
