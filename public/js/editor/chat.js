// The chat: history, the user's messages, the agent's words streaming in (`stream` events), the job's progress
// (`progress` events) with a cancel button, and the message box (with asset references).
//
// A message is shown the moment it is sent, and goes out only once the server has selected this project on a live
// connection (the outbox): sent earlier, it could race the selection and vanish when the history arrives, or be lost
// to a socket that is reconnecting. Each message has an id of its own (`clientMessageId`): one whose connection dropped
// before the server answered goes out again after the reconnect with the same id, and the server answers with the job
// it started if it did reach it (running or over, replayed from its first event), or runs it now: never twice.
import { h, clear, toast } from '../lib/dom.js';
import { t, hasKey, language, formatDate, formatTime } from '../i18n/index.js';
import { errorText } from '../screens/chrome.js';
import { JobFeed } from '../lib/jobfeed.js';
import { newUuid } from '../lib/ids.js';

/** @type {import('../i18n/index.js').Key[]} */
const SUGGESTIONS = ['chat.suggestShooter', 'chat.suggestSnake', 'chat.suggestBreakout', 'chat.suggestPlatformer'];
/** The server's limit on a message (characters); the box shows a counter from 90% of it. */
const MAX_MESSAGE = 20_000;
/** A bubble longer than this is folded (with "Show all"), so one long paste does not fill the whole chat. */
const FOLD_CHARS = 1_200;
const FOLD_LINES = 18;
const ACTIVE = new Set(['pending', 'processing']);
// DreamCore's reference line (V2's format, which the agent reads): the same words in every language.
const REF_LINE = /^\d+：(画像|音声)「[^」]*」を使用: /; // i18n-ignore: a format the agent reads, not words for people

/** @typedef {import('../lib/socket.js').ServerMessage} ServerMessage */
/** An asset referenced from the message box. @typedef {{ id: string, alias: string, url: string, mimeType?: string }} AssetRef */
/**
 * A chat message as sent (`message` on the socket).
 * @typedef {{ type: 'message', content: string, rawContent?: string, attachedAssets?: Array<{ id: string, alias: string, url: string }>,
 *   selectedStyle?: { dimension: string, styleId: string } | null, skipStyleSelection?: boolean, language?: string,
 *   clientMessageId?: string }} ChatMessage
 */
/**
 * A message on its way until the server answers it. Queued until the project is selected on a live connection;
 * `connection` is the one it was sent on.
 * @typedef {{ message: ChatMessage, text: string, bubble: HTMLElement | null, state: 'queued' | 'sent', connection: number }} Outbox
 */
/** @typedef {{ bubble: HTMLElement, body: HTMLElement, text: string, done: boolean, steps?: HTMLElement }} JobBubble */

/** @type {Record<string, import('../i18n/index.js').Key>} */
const FAILURES = {
  CLI_TIMEOUT: 'chat.failTimeout',
  CLI_KILLED: 'chat.failInterrupted',
  CLI_TERMINATED: 'chat.failInterrupted',
  SERVER_RESTART: 'chat.failRestart',
  NETWORK_ERROR: 'chat.failNetwork',
  RATE_LIMIT: 'chat.failBusy',
  AUTH_ERROR: 'chat.failSetup',
};

/**
 * Why a job failed, in the user's words (the server's `userMessage` is Japanese, V2's).
 * @param {ServerMessage} m `failed`
 */
function failureWords(m) {
  return t(FAILURES[m.code] ?? 'chat.failOther');
}

/**
 * @param {{ app: import('../main.js').App, projectId: string,
 *   onJobEnded?: (how: 'completed' | 'failed' | 'cancelled', message: ServerMessage) => void }} options
 */
export function createChat({ app, projectId, onJobEnded }) {
  const { socket } = app;
  /** @type {Array<() => void>} */
  const offs = [];
  const feed = new JobFeed(socket, { projectId });
  /** @type {Map<string, JobBubble>} */
  const jobs = new Map();
  /** @type {string | null} the job on screen, or 'pending' while a message waits for its answer */
  let activeJobId = null;
  let lastPrompt = '';
  /**
   * The last message sent, as sent (a style choice sends it again with `selectedStyle`).
   * @type {ChatMessage | null}
   */
  let lastSent = null;
  /**
   * `limitExceeded.pendingPrompt`: the message the server did not run, offered for sending again.
   * @type {{ content: string, selectedStyle?: ChatMessage['selectedStyle'] } | null}
   */
  let heldBack = null;
  /**
   * The bubble of the last message sent (a style choice sends that message again).
   * @type {HTMLElement | null}
   */
  let lastBubble = null;
  /** @type {Outbox | null} */
  let outbox = null;
  /** Whether the conversation has been rendered from the server's history (the first `projectSelected`). */
  let rendered = false;
  /** @type {AssetRef[]} */
  let attached = [];

  const log = h('div', { class: 'chat-log', role: 'log', 'aria-live': 'polite', dataset: { testid: 'chat-log' } });
  const statusMessage = h('span', { class: 'job-message' }, t('chat.step_starting'));
  const statusPct = h('span', { class: 'job-pct' }, '0%');
  const progressFill = h('div', { class: 'progress-fill' });
  const progressBar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, progressFill);
  const cancelButton = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'cancel-job' }, onclick: cancel }, t('chat.cancel'));
  const status = h(
    'div',
    { class: 'job-status', hidden: true, dataset: { testid: 'job-status' } },
    h('div', { class: 'job-status-row' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), statusMessage, statusPct, cancelButton),
    progressBar,
  );
  // No maxlength: the browser would cut a long paste without a word. The counter and send() say it instead.
  const input = h('textarea', {
    class: 'chat-input',
    rows: 3,
    placeholder: t('chat.placeholder'),
    'aria-label': t('chat.messageLabel'),
  });
  const sendButton = h('button', { type: 'submit', class: 'primary send' }, t('chat.send'));
  /** What the box has to say about the message: it is empty, or too long. */
  const note = h('p', { class: 'chat-note', role: 'alert', hidden: true, dataset: { testid: 'chat-note' } });
  const counter = h('span', { class: 'chat-count small', hidden: true, dataset: { testid: 'chat-count' } });
  const form = h(
    'form',
    { class: 'chat-form' },
    note,
    input,
    h('div', { class: 'chat-form-row' }, h('span', { class: 'muted small hint' }, t('chat.hint')), counter, sendButton),
  );
  const el = h('section', { class: 'chat', 'aria-label': t('chat.chatLabel') }, log, status, form);

  // ---------------------------------------------------------------- rendering

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollDown(force = false) {
    if (force || nearBottom()) requestAnimationFrame(() => (log.scrollTop = log.scrollHeight));
  }

  /**
   * @param {'user' | 'assistant' | 'system'} role
   * @param {import('../lib/dom.js').Child} content
   * @param {{ timestamp?: string, jobId?: string }} [meta]
   */
  function addMessage(role, content, { timestamp, jobId } = {}) {
    const body = h('div', { class: 'msg-body' }, content);
    const bubble = h(
      'div',
      { class: `msg msg-${role}`, dataset: jobId ? { jobId } : {} },
      h(
        'div',
        { class: 'msg-meta' },
        role === 'user' ? t('chat.you') : role === 'assistant' ? 'DreamCore' : t('chat.notice'),
        timestamp ? h('time', { datetime: timestamp, title: formatDate(timestamp) }, ` · ${formatTime(timestamp)}`) : null,
      ),
      body,
    );
    if (typeof content === 'string') foldLong(body, content);
    log.querySelector('.chat-welcome')?.remove();
    log.append(bubble);
    scrollDown(role === 'user');
    return { bubble, body };
  }

  /**
   * Folds a long message to a few lines with a "Show all" button (the text is all there, for copying and reading).
   * @param {HTMLElement} body
   * @param {string} text
   */
  function foldLong(body, text) {
    if (text.length <= FOLD_CHARS && text.split('\n').length <= FOLD_LINES) return;
    body.classList.add('folded');
    const toggle = h('button', { type: 'button', class: 'small ghost msg-fold', dataset: { action: 'unfold' } }, t('chat.showMore'));
    toggle.addEventListener('click', () => {
      const folded = body.classList.toggle('folded');
      toggle.textContent = folded ? t('chat.showMore') : t('chat.showLess');
    });
    body.after(toggle);
  }

  /** @param {string | null} text */
  function showNote(text) {
    note.textContent = text ?? '';
    note.hidden = text === null;
  }

  /** The counter shows from 90% of the limit, and warns past it. */
  function updateCounter() {
    // The server counts UTF-16 units (JavaScript's length), so this does too.
    const count = input.value.trim().length;
    counter.hidden = count < MAX_MESSAGE * 0.9;
    counter.textContent = t('chat.characters', { count, max: MAX_MESSAGE });
    counter.dataset.over = String(count > MAX_MESSAGE);
    if (count <= MAX_MESSAGE && note.dataset.kind === 'too-long') showNote(null);
  }

  /**
   * Ideas as chips that send themselves: a suggestion is a message, not left in the box for a second click.
   * @param {string[]} ideas in the user's words
   * @param {Record<string, string>} [attributes] the row's
   */
  function suggestionChips(ideas, attributes = {}) {
    return h(
      'div',
      { class: 'chips', ...attributes },
      ideas.map((idea) =>
        h(
          'button',
          {
            type: 'button',
            class: 'chip',
            dataset: { action: 'suggestion' },
            onclick: () => {
              input.value = idea;
              send();
            },
          },
          idea,
        ),
      ),
    );
  }

  function welcome() {
    return h(
      'div',
      { class: 'chat-welcome' },
      h('h3', {}, t('chat.welcomeTitle')),
      h('p', { class: 'muted' }, t('chat.welcomeText')),
      suggestionChips(SUGGESTIONS.map((key) => t(key))),
    );
  }

  /**
   * The assistant bubble of a job (created when its first event arrives).
   * @param {string} jobId
   * @returns {JobBubble}
   */
  function jobEntry(jobId) {
    let entry = jobs.get(jobId);
    if (!entry) {
      const { bubble, body } = addMessage('assistant', '', { jobId });
      bubble.classList.add('streaming');
      bubble.dataset.state = 'streaming';
      body.append(h('span', { class: 'typing', 'aria-label': t('chat.typing') }, h('i'), h('i'), h('i')));
      entry = { bubble, body, text: '', done: false };
      jobs.set(jobId, entry);
    }
    return entry;
  }

  /**
   * @param {string} jobId
   * @param {string} content
   */
  function appendStream(jobId, content) {
    const entry = jobEntry(jobId);
    const follow = nearBottom();
    entry.text += content;
    entry.body.textContent = entry.text;
    if (follow) scrollDown(true);
  }

  /**
   * @param {string} jobId
   * @param {'done' | 'failed' | 'cancelled'} state
   * @param {HTMLElement} [note]
   */
  function finishJob(jobId, state, note) {
    const entry = jobEntry(jobId);
    entry.done = true;
    entry.bubble.classList.remove('streaming');
    entry.bubble.dataset.state = state;
    entry.body.querySelector('.typing')?.remove();
    if (note) entry.bubble.append(note);
    if (!entry.text && state !== 'done') entry.body.remove();
    if (activeJobId === jobId) setActive(null);
    scrollDown();
  }

  /**
   * A progress step in the user's words: the server's `step` key in this screen's catalogue, else its `message`.
   * @param {{ step?: unknown, message?: unknown }} m
   */
  function stepWords(m) {
    const key = `chat.step_${m.step}`;
    if (typeof m.step === 'string' && hasKey(key)) return t(key);
    return typeof m.message === 'string' ? m.message : '';
  }

  /**
   * The tool call behind a step, in the user's words ("Wrote index.html", 「index.html」を作りました): the server's
   * `tool` kind in this screen's catalogue with the file's plain name, never the tool's own name ("Write", "Bash").
   * @param {{ tool?: unknown, file?: unknown }} m
   */
  function toolWords(m) {
    const file = typeof m.file === 'string' && m.file ? m.file : null;
    const key = `chat.tool_${m.tool}`;
    if (typeof m.tool !== 'string' || !hasKey(key)) return t('chat.tool_other');
    const words = t(key, file ? { file } : {});
    // A kind that names its file, without one (a tool call with no path): the plain words instead of "{file}".
    return !file && words.includes('{file}') ? t('chat.tool_other') : words;
  }

  /**
   * The tool calls go into the job's bubble, folded: people see "Building your game", the curious open "What
   * DreamCore did" and see "Wrote index.html".
   * @param {string} jobId
   * @param {string} words
   */
  function addStepDetail(jobId, words) {
    const entry = jobEntry(jobId);
    if (!entry.steps) {
      entry.steps = h('ol', { class: 'job-steps-list' });
      entry.bubble.append(h('details', { class: 'job-steps', dataset: { testid: 'job-steps' } }, h('summary', {}, ''), entry.steps));
    }
    entry.steps.append(h('li', {}, words));
    const count = entry.steps.children.length;
    const summary = entry.bubble.querySelector('.job-steps summary');
    if (summary) summary.textContent = t('chat.stepsSummary', { count });
  }

  /**
   * @param {string | null} jobId
   * @param {any} [job] the job's wire form (progress, status)
   */
  function setActive(jobId, job) {
    activeJobId = jobId;
    status.hidden = !jobId;
    cancelButton.disabled = false;
    cancelButton.textContent = t('chat.cancel');
    if (jobId) showProgress(job?.progress ?? 0, job?.progress_message || (job?.status === 'pending' ? t('chat.step_starting') : t('chat.step_working')));
    updateSend();
  }

  /**
   * @param {unknown} pct
   * @param {string} [message]
   */
  function showProgress(pct, message) {
    const p = Math.max(0, Math.min(100, Math.round(Number(pct) || 0)));
    progressFill.style.width = `${p}%`;
    progressBar.setAttribute('aria-valuenow', String(p));
    statusPct.textContent = `${p}%`;
    if (message) statusMessage.textContent = message;
  }

  function updateSend() {
    // Offline is fine: a message waits in the outbox for the connection (the badge in the top bar says it is away).
    sendButton.disabled = Boolean(activeJobId);
    sendButton.textContent = activeJobId ? (outbox?.state === 'queued' ? t('chat.sendWaiting') : t('chat.working')) : t('chat.send');
  }

  /**
   * The conversation so far from the server, and the running job if any.
   * @param {Array<{ role: 'user' | 'assistant' | 'system', content: string, timestamp: string }> | undefined} history
   * @param {any} activeJob the job's wire form, or null
   */
  function renderHistory(history, activeJob) {
    clear(log);
    jobs.clear();
    feed.reset();
    const running = activeJob && ACTIVE.has(activeJob.status) ? activeJob : null;
    const since = running ? Date.parse(running.created_at) : Infinity;
    for (const item of history ?? []) {
      // The running job's reply arrives as its replayed stream; a reply saved meanwhile would repeat it.
      if (item.role === 'assistant' && Date.parse(item.timestamp) >= since) continue;
      addMessage(item.role, item.content, { timestamp: item.timestamp });
    }
    if (outbox?.bubble) log.append(outbox.bubble);
    else if (!history?.length) log.append(welcome());
    if (running) {
      // Its events so far arrive as a replay (the server subscribes this socket from the first one).
      feed.follow(running.id, 0);
      // A message waiting to be sent would only join it: it goes back to the box until the job is done.
      if (outbox) handBack(t('chat.joinedRunning'));
      setActive(running.id, running);
      jobEntry(running.id);
    }
    scrollDown(true);
  }

  /**
   * `projectSelected`, on entering the editor and again after every reconnect: the first renders the conversation.
   * Then the outbox goes out, also a message sent on a connection that dropped before the server answered it: with
   * its id, so the server answers with the job it started if it got it (see `jobStarted`), and runs it if not.
   */
  /** @param {ServerMessage} message */
  function projectSelected({ history, activeJob }) {
    if (!rendered) {
      rendered = true;
      renderHistory(history, activeJob);
    } else if (outbox?.state === 'sent' && outbox.connection !== socket.connection) {
      outbox.state = 'queued';
    }
    flush();
  }

  // ---------------------------------------------------------------- sending

  function send() {
    const text = input.value.trim();
    if (activeJobId) return;
    if (!text) {
      note.dataset.kind = 'empty';
      showNote(t('chat.emptyMessage'));
      input.focus();
      return;
    }
    const count = text.length;
    if (count > MAX_MESSAGE) {
      note.dataset.kind = 'too-long';
      showNote(t('chat.tooLong', { count, max: MAX_MESSAGE }));
      return;
    }
    showNote(null);
    const refs = attached.filter((a) => text.includes(a.url));
    const raw =
      text
        .split('\n')
        .filter((l) => !REF_LINE.test(l))
        .join('\n')
        .trim() || text;
    /** @type {ChatMessage} */
    const message = {
      type: 'message',
      content: text,
      rawContent: raw,
      attachedAssets: refs.map((a) => ({ id: a.id, alias: a.alias, url: a.url })),
      // The agent answers in the language the app speaks to this user.
      language: language(),
      // Sent again after a dropped connection with this id, it never starts a second job.
      clientMessageId: newUuid(),
    };
    lastSent = message;
    // A message handed back by limitExceeded keeps the style it was sent with.
    if (heldBack?.selectedStyle && heldBack.content === raw) message.selectedStyle = heldBack.selectedStyle;
    heldBack = null;
    lastPrompt = text;
    lastBubble = addMessage('user', text, { timestamp: new Date().toISOString() }).bubble;
    input.value = '';
    attached = [];
    post(message, text, lastBubble);
  }

  /**
   * Puts a message in the outbox (one at a time: until the server answers it, no second one) and sends it if it can.
   * @param {ChatMessage} message
   * @param {string} text what the user wrote (handed back to the box if the message is not taken)
   * @param {HTMLElement | null} bubble
   */
  function post(message, text, bubble) {
    outbox = { message, text, bubble, state: 'queued', connection: 0 };
    activeJobId = 'pending';
    status.hidden = false;
    flush();
  }

  /** Sends the outbox once the project is selected on a live connection; until then it says it is waiting. */
  function flush() {
    if (outbox?.state !== 'queued') return;
    if (socket.projectReady(projectId) && socket.send(outbox.message)) {
      outbox.state = 'sent';
      outbox.connection = socket.connection;
      if (outbox.bubble) outbox.bubble.dataset.state = 'sent';
      outbox.bubble?.querySelector('.msg-note')?.remove();
      showProgress(0, t('chat.sending'));
      cancelButton.disabled = true;
      cancelButton.textContent = t('chat.cancel');
    } else {
      if (outbox.bubble) outbox.bubble.dataset.state = 'queued';
      if (outbox.bubble && !outbox.bubble.querySelector('.msg-note')) outbox.bubble.append(h('div', { class: 'msg-note' }, t('chat.queued')));
      showProgress(0, t('chat.waitingForConnection'));
      // Not sent yet, so it can still be taken back.
      cancelButton.disabled = false;
      cancelButton.textContent = t('chat.takeBack');
    }
    updateSend();
  }

  /** The server answered the message in the outbox (or it is being handed back): it is no longer on its way. */
  function settle() {
    const entry = outbox;
    outbox = null;
    entry?.bubble?.querySelector('.msg-note')?.remove();
    return entry;
  }

  /**
   * The message was not taken: its bubble goes, its text goes back to the box, and `note` says why.
   * @param {string | null} note
   */
  function handBack(note) {
    const entry = settle();
    if (activeJobId === 'pending') setActive(null);
    if (!entry) return;
    entry.bubble?.remove();
    if (!input.value) input.value = entry.text;
    if (note) addMessage('system', note);
  }

  /**
   * `styleOptions`: the first creation request named 2D/3D, so the server asks for a visual style first. Picking one
   * (or skipping) sends the same message again with the answer.
   */
  /** @param {ServerMessage} message `styleOptions` */
  function showStylePicker({ dimension, styles, originalMessage }) {
    /**
     * @param {Partial<ChatMessage>} extra
     * @param {HTMLButtonElement} button
     */
    const resend = (extra, button) => {
      if (activeJobId) return toast(t('chat.waitForCurrent'), 'error');
      /** @type {ChatMessage} */
      const base = lastSent && lastSent.content === originalMessage ? lastSent : { type: 'message', content: originalMessage };
      for (const b of picker.querySelectorAll('button')) b.disabled = true;
      button.classList.add('chosen');
      picker.dataset.state = 'answered';
      post({ ...base, ...extra }, originalMessage, lastSent === base ? lastBubble : null);
    };
    const cards = (styles ?? []).map((/** @type {{ id: string, name: string, nameEn?: string, description?: string, imageUrl: string }} */ style) => {
      const button = h(
        'button',
        { type: 'button', class: 'style-card', dataset: { styleId: style.id }, title: style.description ?? '' },
        h('img', { src: style.imageUrl, alt: '', width: 240, height: 160, loading: 'lazy' }),
        // The server names each style in Japanese (`name`) and English (`nameEn`).
        h('span', { class: 'style-name' }, language() === 'ja' ? style.name : (style.nameEn ?? style.name)),
      );
      button.addEventListener('click', () => resend({ selectedStyle: { dimension, styleId: style.id } }, button));
      return button;
    });
    const skip = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'skip-style' } }, t('chat.skipStyle'));
    skip.addEventListener('click', () => resend({ skipStyleSelection: true }, skip));
    const picker = h(
      'div',
      { class: 'style-picker', dataset: { testid: 'style-picker', dimension } },
      h('p', {}, h('strong', {}, dimension === '3d' ? t('chat.pickLook3d') : t('chat.pickLook2d'))),
      h('div', { class: 'style-grid' }, cards),
      h('div', { class: 'style-actions' }, skip),
    );
    log.querySelectorAll('.style-picker[data-state="open"]').forEach((old) => old.remove());
    picker.dataset.state = 'open';
    const { bubble } = addMessage('system', picker);
    bubble.classList.add('msg-style');
    // The question first (the cards may be taller than the chat).
    const behavior = matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth';
    requestAnimationFrame(() => bubble.scrollIntoView({ block: 'start', behavior }));
  }

  function cancel() {
    // A message still waiting for the connection is taken back into the box.
    if (activeJobId === 'pending' && outbox?.state === 'queued') return handBack(null);
    if (!activeJobId || activeJobId === 'pending') return;
    cancelButton.disabled = true;
    cancelButton.textContent = t('chat.cancelling');
    if (!socket.send({ type: 'cancelJob', jobId: activeJobId })) {
      toast(t('common.notConnected'), 'error');
      cancelButton.disabled = false;
      cancelButton.textContent = t('chat.cancel');
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  input.addEventListener('input', () => {
    updateCounter();
    if (note.dataset.kind === 'empty' && input.value.trim() !== '') showNote(null);
  });
  input.addEventListener('keydown', (e) => {
    // Japanese input: Enter confirms the conversion (isComposing / keyCode 229), it must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send();
    }
  });

  /**
   * Puts `N：画像「alias」を使用: /user-assets/…` at the top of the message box (DreamCore's reference format).
   * @param {AssetRef} asset
   */
  function insertReference(asset) {
    const lines = input.value.split('\n');
    let refCount = 0;
    while (refCount < lines.length && REF_LINE.test(lines[refCount])) refCount++;
    const kind = asset.mimeType?.startsWith('audio/') ? '音声' : '画像'; // i18n-ignore: the reference format (REF_LINE)
    const line = `${refCount + 1}：${kind}「${asset.alias}」を使用: ${asset.url}`; // i18n-ignore: the reference format
    lines.splice(refCount, 0, line);
    input.value = lines.join('\n');
    if (refCount === 0 && lines.length === 1) input.value += '\n';
    attached.push(asset);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  // ---------------------------------------------------------------- server events

  /**
   * A job event of this project that has not been rendered yet (repeats after a reconnect are dropped).
   * @param {ServerMessage} m
   */
  const fresh = (m) => feed.accept(m);

  offs.push(
    socket.on('jobStarted', (m) => {
      if (m.job?.project_id !== projectId) return;
      // Joining a job that was already running means our message was not run: it goes back to the box. Unless that
      // job is our message's own (sent again after a reconnect): its reply arrives as the job's replay.
      const ours = Boolean(outbox?.message.clientMessageId) && m.job.client_message_id === outbox?.message.clientMessageId;
      if (m.isExisting && !ours) handBack(t('chat.joinedRunning'));
      else settle();
      feed.follow(m.job.id, 0);
      setActive(m.job.id, m.job);
      jobEntry(m.job.id);
    }),
    socket.on('started', (m) => {
      if (!fresh(m)) return;
      if (activeJobId !== m.jobId && !jobs.get(m.jobId)?.done) setActive(m.jobId, m.job);
      jobEntry(m.jobId);
      showProgress(m.job?.progress ?? 5, t('chat.step_starting'));
    }),
    socket.on('progress', (m) => {
      if (!fresh(m) || jobs.get(m.jobId)?.done) return;
      if (activeJobId !== m.jobId) setActive(m.jobId, m.job);
      const words = stepWords(/** @type {any} */ (m));
      showProgress(m.progress, words);
      // A step made from a tool call (the others, like starting and saving, have no `tool`).
      if (typeof m.tool === 'string') addStepDetail(m.jobId, toolWords(/** @type {any} */ (m)));
    }),
    socket.on('stream', (m) => {
      if (!fresh(m)) return;
      if (activeJobId !== m.jobId && !jobs.get(m.jobId)?.done) setActive(m.jobId);
      appendStream(m.jobId, m.content ?? '');
    }),
    // What the agent did besides writing: the pictures it drew, and the game check after its turn (and the repair).
    socket.on('imagesGenerated', (m) => {
      if (!fresh(m)) return;
      for (const [name, url] of Object.entries(m.images ?? {})) {
        jobEntry(m.jobId).bubble.append(
          h('div', { class: 'msg-note agent-image' }, h('img', { src: String(url), alt: '', width: 32, height: 32 }), ' ', t('chat.imageMade', { name })),
        );
      }
      scrollDown();
    }),
    // A job that named the project says so in its stream (the editor's title follows it): counted here, so the feed
    // sees no hole before `completed`.
    socket.on('projectRenamed', (m) => {
      if (typeof m.seq === 'number') fresh(m);
    }),
    socket.on('gameCheck', (m) => {
      if (!fresh(m) || !m.check) return;
      const { passed, attempt, errors } = m.check;
      const words = passed
        ? t(attempt > 1 ? 'chat.checkRepaired' : 'chat.checkPassed')
        : t('common.twoSentences', { first: t('chat.checkFailed'), second: t(attempt > 1 ? 'chat.checkStillFailing' : 'chat.checkRepairing') });
      const note = h('div', { class: 'msg-note game-check', dataset: { passed: String(Boolean(passed)) } }, words);
      // The errors are for the curious (and for telling the agent): folded away.
      if (!passed && Array.isArray(errors) && errors.length > 0) note.append(h('details', {}, h('summary', {}, '…'), h('pre', {}, errors.join('\n'))));
      jobEntry(m.jobId).bubble.append(note);
      scrollDown();
    }),
    socket.on('completed', (m) => {
      if (!fresh(m)) return;
      const entry = jobEntry(m.jobId);
      if (!entry.text && m.result?.message) {
        entry.text = m.result.message;
        entry.body.textContent = entry.text;
      }
      const ideas = Array.isArray(m.result?.suggestions) ? m.result.suggestions.filter((/** @type {unknown} */ s) => typeof s === 'string') : [];
      // The agent's three ideas for the next message.
      finishJob(m.jobId, 'done', ideas.length > 0 ? suggestionChips(ideas, { class: 'chips next-ideas', 'aria-label': t('chat.nextIdeas') }) : undefined);
      onJobEnded?.('completed', m);
    }),
    socket.on('failed', (m) => {
      if (!fresh(m)) return;
      const retry = h(
        'button',
        {
          type: 'button',
          class: 'small ghost',
          onclick: () => {
            input.value = lastPrompt || input.value;
            input.focus();
          },
        },
        t('chat.editRetry'),
      );
      finishJob(
        m.jobId,
        'failed',
        h(
          'div',
          { class: 'msg-error', dataset: { code: typeof m.code === 'string' ? m.code : '' } },
          h('strong', {}, t('chat.failed')),
          ' ',
          failureWords(m),
          ' ',
          lastPrompt ? retry : null,
        ),
      );
      onJobEnded?.('failed', m);
    }),
    socket.on('cancelled', (m) => {
      // (The legacy `cancel` reply has no seq and no job: the job event that follows is the one rendered.)
      if (typeof m.seq !== 'number' || !fresh(m)) return;
      finishJob(m.jobId, 'cancelled', h('div', { class: 'msg-note' }, t('chat.cancelled')));
      onJobEnded?.('cancelled', m);
    }),
    socket.on('limitExceeded', (m) => {
      settle();
      setActive(null);
      const names = (m.jobs ?? []).map((/** @type {{ projectName?: string }} */ j) => j.projectName || t('chat.anotherGame')).join(', ');
      addMessage('system', t('chat.oneAtATime', { names }));
      if (m.pendingPrompt?.content && !input.value) {
        input.value = m.pendingPrompt.content;
        heldBack = m.pendingPrompt;
      }
    }),
    socket.on('styleOptions', (m) => {
      settle();
      if (activeJobId === 'pending') setActive(null);
      showStylePicker(m);
    }),
    socket.on('info', (m) => {
      // A style question is still open: the message was not taken; it goes back to the box.
      if (m.pendingStyle) handBack(null);
      else settle();
      if (activeJobId === 'pending') setActive(null);
      addMessage('system', m.pendingStyle ? t('chat.chooseStyle') : (m.message ?? ''));
    }),
    socket.on('error', (m) => {
      const code = m.error?.code;
      if (activeJobId === 'pending' && (code || /project|message|request|denied/i.test(m.message ?? ''))) {
        const entry = settle();
        setActive(null);
        if (entry && !input.value) input.value = entry.text;
      }
      if (code === 'DAILY_MESSAGE_LIMIT_EXCEEDED' || code === 'RATE_LIMITED' || code === 'SYSTEM_LIMIT_EXCEEDED') addMessage('system', errorText(m));
    }),
    socket.on('state', updateSend),
  );

  // After a reconnect the socket resumes the job on screen from the last event rendered here.
  socket.resume = () => {
    if (!activeJobId || activeJobId === 'pending' || jobs.get(activeJobId)?.done) return null;
    return { jobId: activeJobId, lastSeq: feed.last(activeJobId) };
  };

  updateSend();
  return {
    el,
    input,
    projectSelected,
    insertReference,
    get activeJobId() {
      return activeJobId === 'pending' ? null : activeJobId;
    },
    dispose: () => {
      offs.forEach((off) => off());
      if (socket.resume) socket.resume = null;
    },
  };
}
