// Sound effects from oscillators: no files. Call sfx.unlock() from the first key press or tap.
const sfx = (() => {
  let ctx = null;
  let muted = localStorage.getItem('dreamcore-muted') === '1';
  function beep({ freq = 440, to = freq, type = 'square', time = 0.12, gain = 0.12, noise = false } = {}) {
    if (!ctx || muted) return;
    const now = ctx.currentTime;
    const g = ctx.createGain();
    g.gain.setValueAtTime(gain, now);
    g.gain.exponentialRampToValueAtTime(0.0001, now + time);
    g.connect(ctx.destination);
    let src;
    if (noise) {
      const buffer = ctx.createBuffer(1, Math.ceil(ctx.sampleRate * time), ctx.sampleRate);
      const data = buffer.getChannelData(0);
      for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
      src = ctx.createBufferSource();
      src.buffer = buffer;
    } else {
      src = ctx.createOscillator();
      src.type = type;
      src.frequency.setValueAtTime(freq, now);
      src.frequency.exponentialRampToValueAtTime(Math.max(1, to), now + time);
    }
    src.connect(g);
    src.start(now);
    src.stop(now + time);
  }
  return {
    unlock() {
      try {
        ctx ??= new AudioContext();
        ctx.resume();
      } catch {
        /* no audio here */
      }
    },
    toggleMute() {
      muted = !muted;
      localStorage.setItem('dreamcore-muted', muted ? '1' : '0');
      return muted;
    },
    beep,
    jump: () => beep({ freq: 300, to: 700, time: 0.15 }),
    coin: () => beep({ freq: 880, to: 1320, type: 'triangle', time: 0.12 }),
    hit: () => beep({ freq: 200, to: 60, type: 'sawtooth', time: 0.2 }),
    explode: () => beep({ noise: true, time: 0.35, gain: 0.2 }),
  };
})();
