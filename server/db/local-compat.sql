-- What Supabase provides and the shared migrations rely on, recreated for the embedded PGlite database and for the
-- PostgreSQL 15 the tests start. Never run this against Supabase: there these objects already exist (with more in them).
-- Everything here is idempotent, so it can run before every migration pass.

-- Roles. PostgREST switches to one of these per request from the JWT's `role` claim; the embedded database does the same
-- with `set local role`. NOLOGIN: only a superuser (PGlite's session) or `authenticator` (PostgREST) may become them.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    -- Supabase's service key bypasses row-level security; the server's background work depends on that.
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    -- The role PostgREST logs in as (Supabase's name): it may only switch into the three above.
    create role authenticator login noinherit;
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

-- The subset of GoTrue's table that the migrations (the sign-up trigger, the users foreign key) and the embedded
-- auth server need.
create table if not exists auth.users (
  id uuid primary key default gen_random_uuid(),
  email text unique,
  encrypted_password text,
  raw_user_meta_data jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Refresh tokens for the embedded auth server only (GoTrue keeps its own). Only a hash is stored, so a copy of the
-- database does not hand out sessions. `parent` links each rotated token to the one it replaced: the chain is the
-- token family that is revoked as a whole when a used token is presented again. Pruning an old token must not log
-- anyone out, hence `set null` (its child simply becomes the root of what is left of the family).
create table if not exists auth.refresh_tokens (
  token_hash text primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  revoked boolean not null default false,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  parent text references auth.refresh_tokens (token_hash) on delete set null
);
create index if not exists refresh_tokens_user_id_idx on auth.refresh_tokens (user_id);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);

-- One-time secrets of the embedded auth server: magic-link tokens (payload: the e-mail and where to land) and the
-- state of a Google sign-in under way (payload: the PKCE verifier, the nonce and where to land). Only a hash is
-- stored; using one deletes it, so a link or a callback works once.
create table if not exists auth.one_time_tokens (
  token_hash text primary key,
  kind text not null check (kind in ('magiclink', 'oauth_state')),
  payload jsonb not null default '{}'::jsonb,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index if not exists one_time_tokens_expires_at_idx on auth.one_time_tokens (expires_at);

-- External sign-in identities (Google's subject) of embedded auth users, as GoTrue's auth.identities.
create table if not exists auth.identities (
  provider text not null,
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (provider, provider_id)
);
create index if not exists identities_user_id_idx on auth.identities (user_id);

-- Only the server (service role) touches the auth tables, as with GoTrue.
grant select, insert, update, delete on auth.users, auth.refresh_tokens, auth.one_time_tokens, auth.identities to service_role;

-- Same definitions as Supabase's: claims come from the per-transaction setting PostgREST (or the embedded database)
-- writes; the older per-claim setting is still honoured first, as Supabase does.
create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;
