// The chat: history, the user's messages, the agent's words streaming in (`stream` events), the job's progress
// (`progress` events) with a cancel button, and the message box (with asset references).
import { h, clear, toast, formatDate } from '../lib/dom.js';
import { errorText } from '../screens/chrome.js';
import { JobFeed } from '../lib/jobfeed.js';

const SUGGESTIONS = ['Make a space shooter game', 'Make a snake game', 'ブロック崩しを作って', 'Make a platformer with coins'];
const ACTIVE = new Set(['pending', 'processing']);
const REF_LINE = /^\d+：(画像|音声)「[^」]*」を使用: /;

export function createChat({ app, projectId, onJobEnded }) {
  const { socket } = app;
  const offs = [];
  const feed = new JobFeed(socket, { projectId });
  /** jobId → {bubble, body, text, done} */
  const jobs = new Map();
  let activeJobId = null;
  let lastPrompt = '';
  /** The last message sent, as sent (a style choice sends it again with `selectedStyle`). */
  let lastSent = null;
  /** `limitExceeded.pendingPrompt`: the message the server did not run, offered for sending again. */
  let heldBack = null;
  /** The bubble of the last message sent (taken back if the server only asks to answer the style question). */
  let lastBubble = null;
  let attached = [];

  const log = h('div', { class: 'chat-log', role: 'log', 'aria-live': 'polite', dataset: { testid: 'chat-log' } });
  const statusMessage = h('span', { class: 'job-message' }, 'Starting…');
  const statusPct = h('span', { class: 'job-pct' }, '0%');
  const progressFill = h('div', { class: 'progress-fill' });
  const cancelButton = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'cancel-job' }, onclick: cancel }, 'Cancel');
  const status = h(
    'div',
    { class: 'job-status', hidden: true, dataset: { testid: 'job-status' } },
    h('div', { class: 'job-status-row' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), statusMessage, statusPct, cancelButton),
    h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100' }, progressFill),
  );
  const input = h('textarea', {
    class: 'chat-input',
    rows: 3,
    maxlength: 20000,
    placeholder: 'Describe the game or a change…  例：「もっと速くして」',
    'aria-label': 'Message',
  });
  const sendButton = h('button', { type: 'submit', class: 'primary send' }, 'Send');
  const form = h(
    'form',
    { class: 'chat-form' },
    input,
    h('div', { class: 'chat-form-row' }, h('span', { class: 'muted small hint' }, 'Enter: send · Shift+Enter: new line'), sendButton),
  );
  const el = h('section', { class: 'chat', 'aria-label': 'Chat' }, log, status, form);

  // ---------------------------------------------------------------- rendering

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollDown(force = false) {
    if (force || nearBottom()) requestAnimationFrame(() => (log.scrollTop = log.scrollHeight));
  }

  function addMessage(role, content, { timestamp, jobId } = {}) {
    const body = h('div', { class: 'msg-body' }, content);
    const bubble = h(
      'div',
      { class: `msg msg-${role}`, dataset: jobId ? { jobId } : {} },
      h(
        'div',
        { class: 'msg-meta' },
        role === 'user' ? 'You' : role === 'assistant' ? 'DreamCore' : 'System',
        timestamp
          ? h(
              'time',
              { datetime: timestamp, title: formatDate(timestamp) },
              ` · ${new Date(timestamp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`,
            )
          : null,
      ),
      body,
    );
    log.querySelector('.chat-welcome')?.remove();
    log.append(bubble);
    scrollDown(role === 'user');
    return { bubble, body };
  }

  function welcome() {
    return h(
      'div',
      { class: 'chat-welcome' },
      h('h3', {}, 'What game shall we make?'),
      h(
        'p',
        { class: 'muted' },
        'Describe it in your own words; the agent writes the game and the preview updates when it is done. 作りたいゲームを教えてください。',
      ),
      h(
        'div',
        { class: 'chips' },
        SUGGESTIONS.map((s) =>
          h(
            'button',
            {
              type: 'button',
              class: 'chip',
              onclick: () => {
                input.value = s;
                input.focus();
              },
            },
            s,
          ),
        ),
      ),
    );
  }

  /** The assistant bubble of a job (created when its first event arrives). */
  function jobEntry(jobId) {
    let entry = jobs.get(jobId);
    if (!entry) {
      const { bubble, body } = addMessage('assistant', '', { jobId });
      bubble.classList.add('streaming');
      bubble.dataset.state = 'streaming';
      body.append(h('span', { class: 'typing', 'aria-label': 'DreamCore is typing' }, h('i'), h('i'), h('i')));
      entry = { bubble, body, text: '', done: false };
      jobs.set(jobId, entry);
    }
    return entry;
  }

  function appendStream(jobId, content) {
    const entry = jobEntry(jobId);
    const follow = nearBottom();
    entry.text += content;
    entry.body.textContent = entry.text;
    if (follow) scrollDown(true);
  }

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

  function setActive(jobId, job) {
    activeJobId = jobId;
    status.hidden = !jobId;
    cancelButton.disabled = false;
    cancelButton.textContent = 'Cancel';
    if (jobId) showProgress(job?.progress ?? 0, job?.progress_message || (job?.status === 'pending' ? 'Waiting to start…' : 'Working…'));
    updateSend();
  }

  function showProgress(pct, message) {
    const p = Math.max(0, Math.min(100, Math.round(Number(pct) || 0)));
    progressFill.style.width = `${p}%`;
    status.querySelector('.progress').setAttribute('aria-valuenow', String(p));
    statusPct.textContent = `${p}%`;
    if (message) statusMessage.textContent = message;
  }

  function updateSend() {
    const offline = !socket.ready;
    sendButton.disabled = Boolean(activeJobId) || offline;
    sendButton.textContent = activeJobId ? 'Working…' : offline ? 'Offline' : 'Send';
  }

  /** projectSelected on entering the editor: the conversation so far, and the running job if any. */
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
    if (!history?.length) log.append(welcome());
    if (running) {
      // Its events so far arrive as a replay (the server subscribes this socket from the first one).
      feed.follow(running.id, 0);
      setActive(running.id, running);
      jobEntry(running.id);
    }
    scrollDown(true);
  }

  // ---------------------------------------------------------------- sending

  function send() {
    const text = input.value.trim();
    if (!text || activeJobId) return;
    if (!socket.ready) {
      toast('Not connected to the server. Reconnecting…', 'error');
      return;
    }
    const refs = attached.filter((a) => text.includes(a.url));
    const raw =
      text
        .split('\n')
        .filter((l) => !REF_LINE.test(l))
        .join('\n')
        .trim() || text;
    lastSent = { type: 'message', content: text, rawContent: raw, attachedAssets: refs.map((a) => ({ id: a.id, alias: a.alias, url: a.url })) };
    // A message handed back by limitExceeded keeps the style it was sent with.
    if (heldBack?.selectedStyle && heldBack.content === raw) lastSent.selectedStyle = heldBack.selectedStyle;
    heldBack = null;
    socket.send(lastSent);
    lastPrompt = text;
    lastBubble = addMessage('user', text, { timestamp: new Date().toISOString() }).bubble;
    input.value = '';
    attached = [];
    awaitServer();
  }

  /** Until the server answers a message, no second one. */
  function awaitServer() {
    activeJobId = 'pending';
    status.hidden = false;
    showProgress(0, 'Sending…');
    cancelButton.disabled = true;
    updateSend();
  }

  /**
   * `styleOptions`: the first creation request named 2D/3D, so the server asks for a visual style first. Picking one
   * (or skipping) sends the same message again with the answer.
   */
  function showStylePicker({ dimension, styles, originalMessage }) {
    const resend = (extra, button) => {
      if (activeJobId || !socket.ready) return toast(activeJobId ? 'Wait for the current generation to finish.' : 'Not connected to the server.', 'error');
      const base = lastSent && lastSent.content === originalMessage ? lastSent : { type: 'message', content: originalMessage };
      if (!socket.send({ ...base, ...extra })) return;
      for (const b of picker.querySelectorAll('button')) b.disabled = true;
      button.classList.add('chosen');
      picker.dataset.state = 'answered';
      awaitServer();
    };
    const cards = (styles ?? []).map((style) => {
      const button = h(
        'button',
        { type: 'button', class: 'style-card', dataset: { styleId: style.id }, title: style.description ?? '' },
        h('img', { src: style.imageUrl, alt: '', width: 240, height: 160, loading: 'lazy' }),
        h(
          'span',
          { class: 'style-name' },
          style.nameEn ?? style.name,
          style.nameEn && style.nameEn.toLowerCase() !== style.name.toLowerCase() ? h('span', { class: 'ja' }, ` ${style.name}`) : null,
        ),
      );
      button.addEventListener('click', () => resend({ selectedStyle: { dimension, styleId: style.id } }, button));
      return button;
    });
    const skip = h('button', { type: 'button', class: 'small ghost', dataset: { action: 'skip-style' } }, 'Skip · おまかせ');
    skip.addEventListener('click', () => resend({ skipStyleSelection: true }, skip));
    const picker = h(
      'div',
      { class: 'style-picker', dataset: { testid: 'style-picker', dimension } },
      h('p', {}, h('strong', {}, `Pick a look for your ${dimension === '3d' ? '3D' : '2D'} game`), h('span', { class: 'ja' }, ' スタイルを選んでください')),
      h('div', { class: 'style-grid' }, cards),
      h('div', { class: 'style-actions' }, skip),
    );
    log.querySelectorAll('.style-picker[data-state="open"]').forEach((old) => old.remove());
    picker.dataset.state = 'open';
    const { bubble } = addMessage('system', picker);
    bubble.classList.add('msg-style');
    // The question first (the cards may be taller than the chat).
    requestAnimationFrame(() => bubble.scrollIntoView({ block: 'start', behavior: 'smooth' }));
  }

  function cancel() {
    if (!activeJobId || activeJobId === 'pending') return;
    cancelButton.disabled = true;
    cancelButton.textContent = 'Cancelling…';
    if (!socket.send({ type: 'cancelJob', jobId: activeJobId })) {
      toast('Not connected to the server.', 'error');
      cancelButton.disabled = false;
      cancelButton.textContent = 'Cancel';
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  input.addEventListener('keydown', (e) => {
    // Japanese input: Enter confirms the conversion (isComposing / keyCode 229), it must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send();
    }
  });

  /** Puts `N：画像「alias」を使用: /user-assets/…` at the top of the message box (DreamCore's reference format). */
  function insertReference(asset) {
    const lines = input.value.split('\n');
    let refCount = 0;
    while (refCount < lines.length && REF_LINE.test(lines[refCount])) refCount++;
    const kind = asset.mimeType?.startsWith('audio/') ? '音声' : '画像';
    const line = `${refCount + 1}：${kind}「${asset.alias}」を使用: ${asset.url}`;
    lines.splice(refCount, 0, line);
    input.value = lines.join('\n');
    if (refCount === 0 && lines.length === 1) input.value += '\n';
    attached.push(asset);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  // ---------------------------------------------------------------- server events

  /** A job event of this project that has not been rendered yet (repeats after a reconnect are dropped). */
  const fresh = (m) => feed.accept(m);

  offs.push(
    socket.on('jobStarted', (m) => {
      if (m.job?.project_id !== projectId) return;
      feed.follow(m.job.id, 0);
      setActive(m.job.id, m.job);
      jobEntry(m.job.id);
      if (m.isExisting) addMessage('system', 'A generation is already running for this game; showing it. 実行中の生成に合流しました。');
    }),
    socket.on('started', (m) => {
      if (!fresh(m)) return;
      if (activeJobId !== m.jobId && !jobs.get(m.jobId)?.done) setActive(m.jobId, m.job);
      jobEntry(m.jobId);
      showProgress(m.job?.progress ?? 5, m.job?.progress_message || 'Starting the agent…');
    }),
    socket.on('progress', (m) => {
      if (!fresh(m) || jobs.get(m.jobId)?.done) return;
      if (activeJobId !== m.jobId) setActive(m.jobId, m.job);
      showProgress(m.progress, m.message);
    }),
    socket.on('stream', (m) => {
      if (!fresh(m)) return;
      if (activeJobId !== m.jobId && !jobs.get(m.jobId)?.done) setActive(m.jobId);
      appendStream(m.jobId, m.content ?? '');
    }),
    socket.on('completed', (m) => {
      if (!fresh(m)) return;
      const entry = jobEntry(m.jobId);
      if (!entry.text && m.result?.message) {
        entry.text = m.result.message;
        entry.body.textContent = entry.text;
      }
      finishJob(m.jobId, 'done');
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
        'Edit & retry',
      );
      finishJob(
        m.jobId,
        'failed',
        h(
          'div',
          { class: 'msg-error' },
          h('strong', {}, 'Generation failed. '),
          m.userMessage || m.error || 'Something went wrong.',
          m.code ? h('span', { class: 'muted small' }, ` (${m.code})`) : null,
          ' ',
          lastPrompt ? retry : null,
        ),
      );
      onJobEnded?.('failed', m);
    }),
    socket.on('cancelled', (m) => {
      // (The legacy `cancel` reply has no seq and no job: the job event that follows is the one rendered.)
      if (typeof m.seq !== 'number' || !fresh(m)) return;
      finishJob(m.jobId, 'cancelled', h('div', { class: 'msg-note' }, 'Cancelled. キャンセルしました。'));
      onJobEnded?.('cancelled', m);
    }),
    socket.on('projectSelected', (m) => {
      // Again after a reconnect: a message that never reached the server is handed back for sending again.
      if (m.projectId !== projectId || activeJobId !== 'pending') return;
      if (m.activeJob && ACTIVE.has(m.activeJob.status)) {
        feed.follow(m.activeJob.id, 0);
        setActive(m.activeJob.id, m.activeJob);
        return;
      }
      setActive(null);
      if (lastPrompt && !input.value) input.value = lastPrompt;
      addMessage('system', 'The connection dropped before your message reached the server. Please send it again. 接続が切れたため、もう一度送信してください。');
    }),
    socket.on('limitExceeded', (m) => {
      setActive(null);
      const names = (m.jobs ?? []).map((j) => j.projectName || 'another game').join(', ');
      addMessage('system', `You already have a generation running (${names}). Wait for it to finish, then send again. 他のゲームで生成中です。`);
      if (m.pendingPrompt?.content && !input.value) {
        input.value = m.pendingPrompt.content;
        heldBack = m.pendingPrompt;
      }
    }),
    socket.on('styleOptions', (m) => {
      if (activeJobId === 'pending') setActive(null);
      showStylePicker(m);
    }),
    socket.on('info', (m) => {
      if (activeJobId === 'pending') setActive(null);
      // A style question is still open: the message was not taken; it goes back to the box.
      if (m.pendingStyle && lastPrompt && !input.value) {
        input.value = lastPrompt;
        lastBubble?.remove();
      }
      addMessage('system', m.message ?? '');
    }),
    socket.on('error', (m) => {
      const code = m.error?.code;
      if (activeJobId === 'pending' && (code || /project|message|request|denied/i.test(m.message ?? ''))) {
        setActive(null);
        if (lastPrompt && !input.value) input.value = lastPrompt;
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
    renderHistory,
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
