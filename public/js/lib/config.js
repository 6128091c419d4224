// GET /api/config: {supabaseUrl, supabaseAnonKey, demoMode, embeddedAuth, backend, ...}

let cached = null;

export async function loadConfig() {
  if (cached) return cached;
  const res = await fetch('/api/config', { cache: 'no-cache' });
  if (!res.ok) throw new Error(`Could not load the server configuration (${res.status})`);
  const config = await res.json();
  cached = {
    supabaseUrl: String(config.supabaseUrl ?? '').replace(/\/$/, ''),
    supabaseAnonKey: config.supabaseAnonKey ?? '',
    demoMode: Boolean(config.demoMode),
    embeddedAuth: Boolean(config.embeddedAuth),
    backend: config.backend ?? 'local',
  };
  // Embedded auth lives on this server: talk to it on this origin (supabaseUrl names the server's own
  // idea of its address, which may be another host name for the same machine, e.g. localhost vs 127.0.0.1).
  cached.authBase = cached.embeddedAuth || !cached.supabaseUrl ? `${location.origin}/auth/v1` : `${cached.supabaseUrl}/auth/v1`;
  /** Google sign-in needs a real Supabase project. */
  cached.googleEnabled = !cached.embeddedAuth && Boolean(cached.supabaseUrl);
  return cached;
}
