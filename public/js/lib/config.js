// GET /api/config: {supabaseUrl, supabaseAnonKey, demoMode, embeddedAuth, backend, ...}
import { t } from '../i18n/index.js';

/**
 * What the server says about itself, and what the app derives from it.
 * @typedef {{ supabaseUrl: string, supabaseAnonKey: string, demoMode: boolean, embeddedAuth: boolean, backend: string,
 *   authBase: string, googleEnabled: boolean }} Config
 */

/** @type {Config | null} */
let cached = null;

/** @returns {Promise<Config>} */
export async function loadConfig() {
  if (cached) return cached;
  const res = await fetch('/api/config', { cache: 'no-cache' });
  if (!res.ok) throw new Error(t('app.configFailed', { status: res.status }));
  const config = await res.json();
  const supabaseUrl = String(config.supabaseUrl ?? '').replace(/\/$/, '');
  const embeddedAuth = Boolean(config.embeddedAuth);
  cached = {
    supabaseUrl,
    supabaseAnonKey: String(config.supabaseAnonKey ?? ''),
    demoMode: Boolean(config.demoMode),
    embeddedAuth,
    backend: String(config.backend ?? 'local'),
    // Embedded auth lives on this server: talk to it on this origin (supabaseUrl names the server's own
    // idea of its address, which may be another host name for the same machine, e.g. localhost vs 127.0.0.1).
    authBase: embeddedAuth || !supabaseUrl ? `${location.origin}/auth/v1` : `${supabaseUrl}/auth/v1`,
    // Supabase's own Google sign-in, or the embedded one when the server has a Google client (a server that does not
    // say: Google only with Supabase).
    googleEnabled: typeof config.googleSignIn === 'boolean' ? config.googleSignIn : !embeddedAuth && Boolean(supabaseUrl),
  };
  return cached;
}
