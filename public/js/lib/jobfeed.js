// Exactly-once, in-order job events for one view (the editor's chat). Every job event carries `seq` (1, 2, 3, …):
// an event at or below the last one rendered is a repeat (a replay after a reconnect) and is dropped; an event
// past a hole asks the server to replay from the last one rendered (`subscribeJob {jobId, lastSeq}`) and waits
// for it. A new view starts at 0 for every job, so it renders a job's whole stream from the replay.

const GAP_WAIT_MS = 5000;

export class JobFeed {
  /**
   * @param {import('./socket.js').Socket} socket
   * @param {{ projectId: string }} options
   */
  constructor(socket, { projectId }) {
    this.socket = socket;
    this.projectId = projectId;
    /** @type {Map<string, number>} jobId → last seq rendered */
    this.seqs = new Map();
    /** @type {Map<string, { last: number, at: number }>} jobId → a replay asked for after a hole */
    this.gaps = new Map();
  }

  /**
   * Start following a job of this project (from `lastSeq`, 0 = from its first event).
   * @param {string} jobId
   */
  follow(jobId, lastSeq = 0) {
    if (!this.seqs.has(jobId)) this.seqs.set(jobId, lastSeq);
  }

  /** Forget everything rendered (the view was rebuilt from history; the running job's replay comes next). */
  reset() {
    this.seqs.clear();
    this.gaps.clear();
  }

  /** @param {string} jobId */
  follows(jobId) {
    return this.seqs.has(jobId);
  }

  /** @param {string} jobId */
  last(jobId) {
    return this.seqs.get(jobId) ?? 0;
  }

  /**
   * True when `message` (a job event with jobId and seq) should be rendered now.
   * @param {import('./socket.js').ServerMessage} message
   */
  accept(message) {
    const { jobId, seq } = message;
    if (typeof seq !== 'number' || typeof jobId !== 'string') return true;
    if (!this.seqs.has(jobId)) {
      // Another project's job (a subscription left over from a previous screen) is none of our business.
      if (message.job?.project_id !== this.projectId) return false;
      this.seqs.set(jobId, 0);
    }
    const last = this.seqs.get(jobId) ?? 0;
    if (seq <= last) {
      this.socket.stats.duplicates++;
      return false;
    }
    if (seq > last + 1) {
      const gap = this.gaps.get(jobId);
      if (!gap || gap.last !== last) {
        this.socket.stats.gaps++;
        this.gaps.set(jobId, { last, at: Date.now() });
        this.socket.send({ type: 'subscribeJob', jobId, lastSeq: last });
        return false;
      }
      if (Date.now() - gap.at < GAP_WAIT_MS) return false; // the replay is on its way
      // The server could not fill it (its log lost those events): carry on rather than stall.
      console.warn(`[jobs] ${jobId}: events ${last + 1}..${seq - 1} are missing`);
    }
    this.gaps.delete(jobId);
    this.seqs.set(jobId, seq);
    return true;
  }
}
