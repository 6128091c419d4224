-- DreamCore core schema (contract/DATA.md §2): the tables the CORE routes need, their row-level-security policies,
-- `updated_at` triggers and public-id generation.
--
-- Runs unchanged on Supabase and on the embedded PGlite / test PostgreSQL (after db/local-compat.sql). It relies only
-- on core PostgreSQL 15+ plus what every Supabase project has: the roles anon / authenticated / service_role,
-- `auth.uid()` and `auth.users`. No extensions.
--
-- IDs: `gen_random_uuid()` (core since PostgreSQL 13). V2 defaulted to UUID v7 through `uuid_generate_v7()`, which is
-- not core before PostgreSQL 18 (`uuidv7()`): it needs an extension or a hand-written function on Supabase (PG15/17),
-- PGlite 0.3 (PG17) and the test PG15. Nothing here orders by id (lists order by timestamps), so v4 loses nothing
-- but index locality, which does not matter at this size.
--
-- Policies use `(select auth.uid())` rather than `auth.uid()` so PostgreSQL evaluates it once per statement
-- (an init plan) instead of once per row.

-- ---------------------------------------------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------------------------------------------

-- `prefix_` + 10 characters from [0-9A-Za-z]: about 59.5 bits, enough that an unlisted game's id cannot be guessed.
-- The randomness comes from gen_random_uuid() (a cryptographic source, and core), skipping the UUID's version and
-- variant bytes and rejecting bytes ≥ 248 so that every character is equally likely.
create or replace function public.generate_public_id(prefix text) returns text
language plpgsql volatile
set search_path = ''
as $$
declare
  alphabet constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  suffix text := '';
  bytes bytea;
  b int;
begin
  while length(suffix) < 10 loop
    bytes := uuid_send(gen_random_uuid());
    for i in 0..15 loop
      continue when i in (6, 8);
      b := get_byte(bytes, i);
      continue when b >= 248;
      suffix := suffix || substr(alphabet, b % 62 + 1, 1);
      exit when length(suffix) = 10;
    end loop;
  end loop;
  return prefix || '_' || suffix;
end
$$;

create or replace function public.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- ---------------------------------------------------------------------------------------------------------------
-- users: one row per auth user (created by the sign-up trigger in 002; the server also ensures it on connect)
-- ---------------------------------------------------------------------------------------------------------------
create table public.users (
  id uuid primary key references auth.users (id) on delete cascade,
  email text not null unique,
  display_name text,
  avatar_url text,
  bio text,
  social_links jsonb check (social_links is null or jsonb_typeof(social_links) = 'object'),
  username text unique,
  public_id text not null unique default public.generate_public_id('u'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create trigger users_set_updated_at before update on public.users
  for each row execute function public.set_updated_at();

alter table public.users enable row level security;
create policy users_select_own on public.users for select to authenticated
  using (id = (select auth.uid()));
create policy users_update_own on public.users for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- projects
-- ---------------------------------------------------------------------------------------------------------------
create table public.projects (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  name text not null default 'New Game',
  is_public boolean not null default false,
  remixed_from uuid references public.projects (id) on delete set null,
  public_id text not null unique default public.generate_public_id('p'),
  is_initialized boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- The project list: a user's projects, most recently touched first.
create index projects_user_updated_idx on public.projects (user_id, updated_at desc);
create index projects_remixed_from_idx on public.projects (remixed_from);

create trigger projects_set_updated_at before update on public.projects
  for each row execute function public.set_updated_at();

alter table public.projects enable row level security;
create policy projects_select_own on public.projects for select to authenticated
  using (user_id = (select auth.uid()));
create policy projects_insert_own on public.projects for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy projects_update_own on public.projects for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy projects_delete_own on public.projects for delete to authenticated
  using (user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- chat_history
-- ---------------------------------------------------------------------------------------------------------------
create table public.chat_history (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  role text not null check (role in ('user', 'assistant', 'system')),
  message text not null,
  created_at timestamptz not null default now()
);
create index chat_history_project_created_idx on public.chat_history (project_id, created_at desc);

-- A chat message is activity on the project: lists sort by updated_at, and doing it here saves the server a round
-- trip per message. Runs with the caller's rights, so RLS still decides (the caller owns the project or is the
-- service role).
create or replace function public.touch_project_from_chat() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update public.projects set updated_at = now() where id = new.project_id;
  return new;
end
$$;

create trigger chat_history_touch_project after insert on public.chat_history
  for each row execute function public.touch_project_from_chat();

alter table public.chat_history enable row level security;
create policy chat_history_select_own on public.chat_history for select to authenticated
  using (exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid())));
create policy chat_history_insert_own on public.chat_history for insert to authenticated
  with check (exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid())));
create policy chat_history_delete_own on public.chat_history for delete to authenticated
  using (exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid())));

-- ---------------------------------------------------------------------------------------------------------------
-- jobs: readable by the owner, written by the service role (the job manager)
-- ---------------------------------------------------------------------------------------------------------------
create table public.jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  status text not null default 'pending'
    check (status in ('pending', 'processing', 'completed', 'failed', 'cancelled')),
  progress int not null default 0 check (progress between 0 and 100),
  progress_message text,
  result text,
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index jobs_project_created_idx on public.jobs (project_id, created_at desc);
create index jobs_user_status_idx on public.jobs (user_id, status);

create trigger jobs_set_updated_at before update on public.jobs
  for each row execute function public.set_updated_at();

alter table public.jobs enable row level security;
create policy jobs_select_own on public.jobs for select to authenticated
  using (user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- assets: per-user files addressed by (owner, alias); global assets have no owner
-- ---------------------------------------------------------------------------------------------------------------
create table public.assets (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid references public.users (id) on delete cascade,
  alias text not null,
  filename text,
  original_name text,
  storage_path text,
  mime_type text,
  size bigint,
  hash text not null,
  hash_short text generated always as (left(hash, 8)) stored,
  is_public boolean not null default false,
  is_deleted boolean not null default false,
  is_global boolean not null default false,
  category text,
  is_remix_allowed boolean,
  original_asset_id uuid references public.assets (id) on delete set null,
  created_in_project_id uuid references public.projects (id) on delete set null,
  available_from timestamptz,
  available_until timestamptz,
  tags text,
  description text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint assets_global_has_no_owner check (is_global = (owner_id is null)),
  -- Deleted rows keep their alias: a URL that once served one file never serves another.
  constraint assets_owner_alias_key unique (owner_id, alias)
);
create unique index assets_global_alias_key on public.assets (alias) where owner_id is null;
create index assets_owner_created_idx on public.assets (owner_id, created_at desc);

create trigger assets_set_updated_at before update on public.assets
  for each row execute function public.set_updated_at();

alter table public.assets enable row level security;
create policy assets_select_authenticated on public.assets for select to authenticated
  using (
    not is_deleted and (
      owner_id = (select auth.uid())
      or is_public
      or (is_global
          and (available_from is null or available_from <= now())
          and (available_until is null or available_until > now()))
    )
  );
create policy assets_select_anon on public.assets for select to anon
  using (
    not is_deleted and (
      is_public
      or (is_global
          and (available_from is null or available_from <= now())
          and (available_until is null or available_until > now()))
    )
  );
create policy assets_insert_own on public.assets for insert to authenticated
  with check (owner_id = (select auth.uid()) and not is_global);
create policy assets_update_own on public.assets for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()) and not is_global);
create policy assets_delete_own on public.assets for delete to authenticated
  using (owner_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- project_assets: which project uses which asset
-- ---------------------------------------------------------------------------------------------------------------
create table public.project_assets (
  id uuid primary key default gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  asset_id uuid not null references public.assets (id) on delete cascade,
  usage_type text not null default 'image',
  added_at timestamptz not null default now(),
  unique (project_id, asset_id)
);
create index project_assets_asset_idx on public.project_assets (asset_id);

alter table public.project_assets enable row level security;
create policy project_assets_all_own on public.project_assets for all to authenticated
  using (exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid())))
  with check (exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid())));

-- ---------------------------------------------------------------------------------------------------------------
-- publish_drafts: the publish form as last saved (one per project)
-- ---------------------------------------------------------------------------------------------------------------
create table public.publish_drafts (
  project_id uuid primary key references public.projects (id) on delete cascade,
  title text,
  description text,
  how_to_play text,
  tags text, -- a JSON array of strings, as V2 stored it
  visibility text not null default 'public' check (visibility in ('public', 'unlisted', 'private')),
  remix text not null default 'allowed' check (remix in ('allowed', 'disallow')),
  thumbnail_url text,
  updated_at timestamptz not null default now()
);

create trigger publish_drafts_set_updated_at before update on public.publish_drafts
  for each row execute function public.set_updated_at();

alter table public.publish_drafts enable row level security;
create policy publish_drafts_all_own on public.publish_drafts for all to authenticated
  using (exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid())))
  with check (exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid())));

-- ---------------------------------------------------------------------------------------------------------------
-- published_games: one per project; public ones are readable by anyone, unlisted ones only through the service role
-- ---------------------------------------------------------------------------------------------------------------
create table public.published_games (
  id uuid primary key default gen_random_uuid(),
  public_id text not null unique default public.generate_public_id('g'),
  project_id uuid not null unique references public.projects (id) on delete cascade,
  user_id uuid not null references public.users (id) on delete cascade,
  title text not null,
  description text,
  how_to_play text,
  tags text[] not null default '{}',
  thumbnail_url text,
  visibility text not null default 'public' check (visibility in ('public', 'private', 'unlisted')),
  allow_remix boolean not null default true,
  play_count int not null default 0,
  like_count int not null default 0,
  published_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index published_games_public_idx on public.published_games (published_at desc) where visibility = 'public';
create index published_games_user_idx on public.published_games (user_id, published_at desc);

-- Only edits of the game's own fields count as an update: a play or a like must not move updated_at.
create trigger published_games_set_updated_at
  before update of project_id, user_id, title, description, how_to_play, tags, thumbnail_url, visibility, allow_remix
  on public.published_games
  for each row execute function public.set_updated_at();

alter table public.published_games enable row level security;
create policy published_games_select_public on public.published_games for select to anon, authenticated
  using (visibility = 'public');
create policy published_games_select_own on public.published_games for select to authenticated
  using (user_id = (select auth.uid()));
create policy published_games_insert_own on public.published_games for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid()))
  );
create policy published_games_update_own on public.published_games for update to authenticated
  using (user_id = (select auth.uid()))
  with check (
    user_id = (select auth.uid())
    and exists (select 1 from public.projects p where p.id = project_id and p.user_id = (select auth.uid()))
  );
create policy published_games_delete_own on public.published_games for delete to authenticated
  using (user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- activity_log: written by the service role, readable by its user
-- ---------------------------------------------------------------------------------------------------------------
create table public.activity_log (
  id uuid primary key default gen_random_uuid(),
  user_id uuid references public.users (id) on delete set null,
  action text not null,
  target_type text,
  target_id text,
  details text,
  created_at timestamptz not null default now()
);
create index activity_log_user_created_idx on public.activity_log (user_id, created_at desc);

alter table public.activity_log enable row level security;
create policy activity_log_select_own on public.activity_log for select to authenticated
  using (user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- usage_quotas: per user and UTC day; changed only through try_consume_quota (002)
-- ---------------------------------------------------------------------------------------------------------------
create table public.usage_quotas (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references public.users (id) on delete cascade,
  quota_date date not null,
  projects_created int not null default 0,
  messages_sent int not null default 0,
  unique (user_id, quota_date)
);

alter table public.usage_quotas enable row level security;
create policy usage_quotas_select_own on public.usage_quotas for select to authenticated
  using (user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- subscriptions: the plan counts only while status = 'active' (else free)
-- ---------------------------------------------------------------------------------------------------------------
create table public.subscriptions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null unique references public.users (id) on delete cascade,
  plan text not null default 'free' check (plan in ('free', 'pro', 'team')),
  status text not null default 'active' check (status in ('active', 'cancelled', 'past_due', 'trialing')),
  stripe_customer_id text,
  stripe_subscription_id text,
  current_period_start timestamptz,
  current_period_end timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create trigger subscriptions_set_updated_at before update on public.subscriptions
  for each row execute function public.set_updated_at();

alter table public.subscriptions enable row level security;
create policy subscriptions_select_own on public.subscriptions for select to authenticated
  using (user_id = (select auth.uid()));

-- ---------------------------------------------------------------------------------------------------------------
-- Privileges. Table privileges say which commands a role may try at all; the policies above decide which rows.
-- Supabase's default privileges grant everything (TRUNCATE included, which RLS does not cover) to anon and
-- authenticated on every new table; the local roles start with nothing. Revoking first and granting exactly what is
-- needed makes both the same.
-- ---------------------------------------------------------------------------------------------------------------
grant usage on schema public to anon, authenticated, service_role;

revoke all on
  public.users, public.projects, public.chat_history, public.jobs, public.assets, public.project_assets,
  public.publish_drafts, public.published_games, public.activity_log, public.usage_quotas, public.subscriptions
  from anon, authenticated;

grant select, insert, update, delete on
  public.users, public.projects, public.chat_history, public.jobs, public.assets, public.project_assets,
  public.publish_drafts, public.published_games, public.activity_log, public.usage_quotas, public.subscriptions
  to service_role;

-- Signed-in users: what their policies allow, no more (jobs, activity, quotas and plans are written by the server).
grant select, update on public.users to authenticated;
grant select, insert, update, delete on
  public.projects, public.assets, public.project_assets, public.publish_drafts, public.published_games
  to authenticated;
grant select, insert, delete on public.chat_history to authenticated;
grant select on public.jobs, public.activity_log, public.usage_quotas, public.subscriptions to authenticated;

grant select on public.published_games, public.assets to anon;
