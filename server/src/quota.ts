/**
 * Daily quotas (UTC): free 3 projects / 20 messages, pro 100/500, team unlimited; the plan comes from the
 * subscription when it is active. Consumption is atomic in the database. Like V2, a quota service failure lets
 * the request through (fail-open) and is logged.
 */
import type { Logger } from './logger.js';

export type QuotaField = 'projects_created' | 'messages_sent';

export interface QuotaRepo {
  tryConsumeQuota(userId: string, field: QuotaField, limit: number): Promise<{ allowed: boolean; currentCount: number }>;
  getQuota(userId: string): Promise<{ projectsCreated?: number; messagesSent?: number; projects_created?: number; messages_sent?: number }>;
  planOf(userId: string): Promise<'free' | 'pro' | 'team'>;
}

const PLANS = {
  free: { projects_created: 3, messages_sent: 20 },
  pro: { projects_created: 100, messages_sent: 500 },
  team: { projects_created: -1, messages_sent: -1 },
} as const;

export function nextUtcMidnight(now = new Date()): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
}

export class Quota {
  constructor(
    private readonly repo: QuotaRepo,
    private readonly freeLimits: { projects_created: number; messages_sent: number },
    private readonly log: Logger,
  ) {}

  private async limitFor(userId: string, field: QuotaField): Promise<number> {
    const plan = await this.repo.planOf(userId);
    return plan === 'free' ? this.freeLimits[field] : PLANS[plan][field];
  }

  async consume(userId: string, field: QuotaField): Promise<{ allowed: boolean; limit: number; resetAt: string }> {
    const resetAt = nextUtcMidnight();
    try {
      const limit = await this.limitFor(userId, field);
      const { allowed } = await this.repo.tryConsumeQuota(userId, field, limit);
      return { allowed, limit, resetAt };
    } catch (error) {
      this.log.error({ err: error, userId, field }, 'quota check failed; allowing (fail-open)');
      return { allowed: true, limit: -1, resetAt };
    }
  }

  async status(userId: string) {
    const [plan, usage] = await Promise.all([this.repo.planOf(userId), this.repo.getQuota(userId)]);
    const limits = plan === 'free' ? this.freeLimits : PLANS[plan];
    const used = { projects_created: usage.projectsCreated ?? usage.projects_created ?? 0, messages_sent: usage.messagesSent ?? usage.messages_sent ?? 0 };
    const view = (field: QuotaField) => ({
      used: used[field],
      limit: limits[field],
      remaining: limits[field] < 0 ? -1 : Math.max(0, limits[field] - used[field]),
    });
    return { projects: view('projects_created'), messages: view('messages_sent'), plan, resetAt: nextUtcMidnight() };
  }
}
