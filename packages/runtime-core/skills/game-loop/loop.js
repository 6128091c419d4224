// A requestAnimationFrame loop with clamped delta time and pause while the page is hidden.
// startLoop(step) calls step(dt) every frame, dt in seconds (at most 1/30).
function startLoop(step) {
  let last = performance.now();
  let paused = false;
  document.addEventListener('visibilitychange', () => {
    paused = document.hidden;
    last = performance.now();
  });
  function frame(now) {
    const dt = Math.min((now - last) / 1000, 1 / 30);
    last = now;
    if (!paused) step(dt);
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);
}
