// A local best score that never throws (private mode, full storage, another game's junk under the key).
function bestScore(key) {
  const read = () => {
    try {
      return Math.max(0, Number(localStorage.getItem(key)) || 0);
    } catch {
      return 0;
    }
  };
  return {
    get: read,
    submit(score) {
      const isBest = score > read();
      if (isBest) {
        try {
          localStorage.setItem(key, String(score));
        } catch {
          /* storage unavailable */
        }
      }
      return isBest;
    },
  };
}
