/**
 * Plays a generated demo game without a browser: its script runs in a VM with a stub canvas and a manual clock, so a
 * test can press keys, advance frames and read the game's state.
 */
import vm from 'node:vm';

export interface Harness {
  frames(n: number, ms?: number): void;
  key(code: string, down: boolean): void;
  tap(x: number, y: number): void;
  get<T = unknown>(expr: string): T;
  drawCalls(): number;
}

/** Runs a generated game's script in a VM with a stub canvas and a manual clock. */
export function playHeadless(html: string): Harness {
  const code = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
  const windowListeners: Record<string, Array<(e: unknown) => void>> = {};
  const canvasListeners: Record<string, Array<(e: unknown) => void>> = {};
  let calls = 0;
  let now = 1000;
  let raf: ((t: number) => void) | null = null;
  // The games' timers (a title screen sleeps until its blinking line changes) run on the same manual clock.
  let timers: { id: number; at: number; fn: () => void }[] = [];
  let timerIds = 0;
  const context2d = new Proxy({} as Record<string | symbol, unknown>, {
    get(target, prop) {
      if (prop in target) return target[prop];
      return () => {
        calls++;
        return { addColorStop() {}, width: 10 };
      };
    },
  });
  const canvas = {
    style: {},
    getContext: () => context2d,
    getBoundingClientRect: () => ({ left: 0, top: 0, width: 480, height: 640 }),
    addEventListener: (type: string, fn: (e: unknown) => void) => (canvasListeners[type] ??= []).push(fn),
  };
  const sandbox = vm.createContext({
    document: { getElementById: () => canvas },
    addEventListener: (type: string, fn: (e: unknown) => void) => (windowListeners[type] ??= []).push(fn),
    innerWidth: 800,
    innerHeight: 600,
    localStorage: { getItem: () => null, setItem: () => undefined },
    performance: { now: () => now },
    requestAnimationFrame: (fn: (t: number) => void) => ((raf = fn), 1),
    setTimeout: (fn: () => void, ms = 0) => {
      timers.push({ id: ++timerIds, at: now + ms, fn });
      return timerIds;
    },
    clearTimeout: (id: number) => {
      timers = timers.filter((t) => t.id !== id);
    },
  });
  vm.runInContext(code, sandbox);
  const fire = (list: Array<(e: unknown) => void> | undefined, event: unknown) => list?.forEach((fn) => fn(event));
  return {
    frames(n, ms = 1000 / 60) {
      for (let i = 0; i < n; i++) {
        now += ms;
        const due = timers.filter((t) => t.at <= now);
        timers = timers.filter((t) => t.at > now);
        for (const t of due) t.fn();
        const next = raf;
        if (!next) {
          // Asleep on a still screen until a timer wakes it; with no timer either, the loop is gone.
          if (timers.length > 0) continue;
          throw new Error('the game loop stopped requesting frames');
        }
        raf = null;
        next(now);
      }
    },
    key(code, down) {
      fire(windowListeners[down ? 'keydown' : 'keyup'], { code, repeat: false, preventDefault() {} });
    },
    tap(x, y) {
      fire(canvasListeners.pointerdown, { clientX: x, clientY: y, preventDefault() {} });
      fire(windowListeners.pointerup, {});
    },
    get: (expr) => vm.runInContext(expr, sandbox),
    drawCalls: () => calls,
  };
}
