// One input state for keyboard, mouse and touch. Read input.left/right/up/down/action in the game loop;
// input.pressed('action') is true once per press. Touch buttons: add elements with data-key="left" etc.
const input = (() => {
  const KEYS = {
    ArrowLeft: 'left',
    KeyA: 'left',
    ArrowRight: 'right',
    KeyD: 'right',
    ArrowUp: 'up',
    KeyW: 'up',
    ArrowDown: 'down',
    KeyS: 'down',
    Space: 'action',
    Enter: 'action',
  };
  const held = new Set();
  const fresh = new Set();
  const press = (name) => {
    if (!held.has(name)) fresh.add(name);
    held.add(name);
  };
  addEventListener('keydown', (e) => {
    const k = KEYS[e.code];
    if (k) {
      e.preventDefault();
      press(k);
    }
  });
  addEventListener('keyup', (e) => {
    const k = KEYS[e.code];
    if (k) held.delete(k);
  });
  addEventListener('blur', () => held.clear());
  for (const el of document.querySelectorAll('[data-key]')) {
    el.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      press(el.dataset.key);
    });
    for (const end of ['pointerup', 'pointercancel', 'pointerleave']) el.addEventListener(end, () => held.delete(el.dataset.key));
  }
  const api = {
    pointer: { x: 0, y: 0, down: false },
    pressed(name) {
      const was = fresh.has(name);
      fresh.delete(name);
      return was;
    },
  };
  for (const name of ['left', 'right', 'up', 'down', 'action']) Object.defineProperty(api, name, { get: () => held.has(name) });
  return api;
})();
